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
import sys
from collections import deque
from collections.abc import Callable
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
        self._sizes: deque[int] = deque()
        self._on_overflow = on_overflow

    def put_nowait(self, item: Any) -> None:
        if self.overflowed:
            return  # the socket is being disconnected; nobody will read this
        size = wire_size(item)
        if self.held_bytes + size > self.limit_bytes and item is not None:
            held = self.held_bytes + size
            self.overflowed = True
            self._queue.clear()  # type: ignore[attr-defined]  # asyncio.Queue's own storage
            self._sizes.clear()
            self.held_bytes = 0
            super().put_nowait(None)
            self._on_overflow(self, held)
            return
        super().put_nowait(item)

    def _put(self, item: Any) -> None:
        size = wire_size(item)
        self._sizes.append(size)
        self.held_bytes += size
        super()._put(item)

    def _get(self) -> Any:
        if self._sizes:
            self.held_bytes -= self._sizes.popleft()
        return super()._get()

    async def join(self) -> None:
        """Nothing dropped on overflow will ever be marked done: do not wait for it."""
        if not self.overflowed:
            await super().join()


class TimedWebSocket(asgi.WebSocket):  # type: ignore[misc]
    """python-engineio's ASGI websocket, with every write bounded by the server's ``write_timeout_s``.

    A write that does not finish in time (the peer stopped reading and the transport is full)
    raises, which ends python-engineio's writer; the read waiting at that moment is cancelled,
    which ends its reader loop, so the connection is closed and the socket disconnected.
    """

    def __init__(self, handler: Any, server: Any) -> None:
        super().__init__(handler, server)
        timeout = getattr(server, "write_timeout_s", None)
        self.write_timeout_s: float | None = timeout if timeout and timeout > 0 else None
        self.stalled = False
        self._reader: asyncio.Task[Any] | None = None

    async def send(self, message: Any) -> None:
        if self.stalled:
            raise ConnectionError("the websocket peer stopped reading")
        try:
            async with asyncio.timeout(self.write_timeout_s):
                await super().send(message)
        except TimeoutError:
            self._stall()
            raise ConnectionError(
                f"the websocket peer read nothing for {self.write_timeout_s:g} s; closing the connection"
            ) from None

    async def close(self) -> None:
        if self.stalled:
            return  # a close frame would wait behind the unread data; the app's return closes the transport
        try:
            async with asyncio.timeout(self.write_timeout_s):
                await super().close()
        except TimeoutError:
            self._stall()

    async def wait(self) -> Any:
        if self.stalled:
            raise OSError("the websocket peer stopped reading")
        self._reader = asyncio.current_task()
        try:
            return await super().wait()
        finally:
            self._reader = None

    def _stall(self) -> None:
        self.stalled = True
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
