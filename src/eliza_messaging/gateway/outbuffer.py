"""Bounded output: what the server holds for a socket that does not read is limited.

python-engineio queues every outgoing packet of a socket in an unbounded ``asyncio.Queue`` that
its writer drains to the websocket (or a long-poll drains). A client that stops reading made
the queue grow without end. ``MeteredQueue`` counts the bytes it holds and, past the limit, drops
what it holds, stops taking more and reports the socket so the server disconnects it.
``TimedWebSocket`` bounds each websocket write: a reader stalled for longer than the timeout ends
the connection instead of holding the writer (and everything queued behind it) forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

from engineio.async_drivers import asgi

#: Control packets (open, ping, noop, close) carry no data worth measuring.
_CONTROL_PACKET_BYTES = 64


def wire_size(pkt: Any) -> int:
    """What holding ``pkt`` costs: the memory of its data (O(1), even for large text)."""
    if pkt is None:
        return 0
    data = getattr(pkt, "data", None)
    if isinstance(data, str | bytes | bytearray):
        return sys.getsizeof(data)
    return _CONTROL_PACKET_BYTES


class MeteredQueue(asyncio.Queue[Any]):
    """An outgoing packet queue that holds at most ``limit_bytes``; past it, it overflows once.

    On overflow it forgets what it held, lets the reader (poll or websocket writer) end with the
    ``None`` python-engineio uses to stop it, refuses anything more and calls
    ``on_overflow(queue, bytes_held)``: the server then closes the socket.
    """

    def __init__(self, limit_bytes: int, on_overflow: Callable[[MeteredQueue, int], None]) -> None:
        super().__init__()
        self.limit_bytes = limit_bytes
        self.held_bytes = 0
        self.overflowed = False
        self._on_overflow = on_overflow

    def put_nowait(self, item: Any) -> None:
        if self.overflowed:
            return  # the socket is being disconnected; nobody will read this
        size = wire_size(item)
        if self.held_bytes + size > self.limit_bytes and item is not None:
            held = self.held_bytes + size
            self.overflowed = True
            self._queue.clear()  # type: ignore[attr-defined]  # asyncio.Queue's own storage
            self.held_bytes = 0
            super().put_nowait(None)
            self._on_overflow(self, held)
            return
        super().put_nowait(item)

    def _put(self, item: Any) -> None:
        self.held_bytes += wire_size(item)
        super()._put(item)

    def _get(self) -> Any:
        # a packet's size is read again rather than kept in a second deque (~600 bytes per socket):
        # its data does not change while it waits
        item = super()._get()
        self.held_bytes -= wire_size(item)
        return item

    async def join(self) -> None:
        """Nothing dropped on overflow will ever be marked done: do not wait for it."""
        if not self.overflowed:
            await super().join()


class WriteWatch:
    """Ends websocket writes that wait longer than ``timeout_s`` for a peer that stopped reading.

    One sweep every half timeout looks at the websockets with a write in progress, so a write
    costs two attribute stores, not a timer of its own.
    """

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._sockets: weakref.WeakSet[TimedWebSocket] = weakref.WeakSet()
        self._sweeper: asyncio.Task[None] | None = None

    def watch(self, ws: TimedWebSocket) -> None:
        if self.timeout_s <= 0:
            return
        self._sockets.add(ws)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        try:
            while self._sockets:
                await asyncio.sleep(self.timeout_s / 2)
                now = asyncio.get_running_loop().time()
                for ws in list(self._sockets):
                    ws.check(now, self.timeout_s)
        finally:
            self._sweeper = None


class TimedWebSocket(asgi.WebSocket):  # type: ignore[misc]
    """python-engineio's ASGI websocket, with writes watched by the server's ``write_watch``.

    A write that has not finished in time (the peer stopped reading and the transport is full)
    is cancelled and raises ``ConnectionError``, which ends python-engineio's writer; the read
    waiting at that moment is cancelled too, which ends its reader loop, so the socket is
    disconnected and the application lets go of the connection.
    """

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        self.stalled = False
        self._since: float | None = None
        self._writer: asyncio.Task[Any] | None = None
        self._reader: asyncio.Task[Any] | None = None
        watch = getattr(server, "write_watch", None)
        if isinstance(watch, WriteWatch):
            watch.watch(self)

    async def send(self, message: Any) -> None:
        await self._write(super().send(message))

    async def close(self) -> None:
        if self.stalled:
            return  # a close frame would wait behind the unread data; the app's return closes the transport
        with contextlib.suppress(ConnectionError):
            await self._write(super().close())

    async def _write(self, write: Coroutine[Any, Any, None]) -> None:
        if self.stalled:
            write.close()
            raise ConnectionError("the websocket peer stopped reading")
        task = asyncio.current_task()
        self._writer = task
        self._since = asyncio.get_running_loop().time()
        try:
            await write
        except asyncio.CancelledError:
            if not self.stalled or task is None:
                raise
            task.uncancel()  # the watch cancelled this write, nobody cancelled the task
            raise ConnectionError("the websocket peer stopped reading; closing the connection") from None
        finally:
            self._since = None
            self._writer = None

    async def wait(self) -> Any:
        if self.stalled:
            raise OSError("the websocket peer stopped reading")
        self._reader = asyncio.current_task()
        try:
            return await super().wait()
        finally:
            self._reader = None

    def check(self, now: float, timeout_s: float) -> None:
        """Called by the watch: give up on a write that has waited longer than ``timeout_s``."""
        if self.stalled or self._since is None or now - self._since <= timeout_s:
            return
        self.stalled = True
        for task in (self._writer, self._reader):
            if task is not None and not task.done():
                task.cancel()
