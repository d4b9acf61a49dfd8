"""python-socketio's client managers with an emit that costs one encoding per broadcast, not a task per socket.

python-socketio's ``AsyncManager.emit`` encodes a packet once but then creates one task per
recipient (each calling ``AsyncSocket.send``) and waits on all of them; in a room of 500 that is
500 tasks per message, and its packet scans every value of the payload for binary data first.
Our protocol is JSON only (binary events are refused on the way in: gateway/guarded.py), so
``BroadcastManager.emit`` encodes the Socket.IO text once with orjson and puts the one Engine.IO
packet straight on each recipient's outgoing queue. The queue stays the socket's own
(``create_queue``: a bounded one counts what it holds and disconnects a socket that does not
read). The text of an event is the same for Engine.IO 3 and 4 sessions (``2["event",...]``,
framed by each session's writer: protocol 3 polling and websocket framing is done there), so
one packet serves both.

A socket whose ping deadline may have passed takes python-engineio's own ``send``, which checks
it and closes the session; emits with an ack callback keep python-socketio's path (a packet
per recipient, each with its own ack id).

A server that overrides ``_send_eio_packet`` to look at what each socket is sent (python-socketio's
manager calls it for every recipient; holding a channel's broadcasts during a replay does) still
gets every packet through it, awaited in turn without a task. If it also defines
``sees_packets_of(eio_sid) -> bool``, only the sockets it names take that path; the others are
queued directly.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import orjson
import socketio
from engineio import packet as eio_packet


def event_text(namespace: str, event: str, args: list[Any]) -> str:
    """The Socket.IO EVENT packet, encoded (``2["event",...]``; ``2/ns,[...]`` outside ``/``)."""
    body = orjson.dumps([event, *args], option=orjson.OPT_NON_STR_KEYS).decode()
    return "2" + body if namespace == "/" else f"2{namespace},{body}"


def _arguments(data: Any) -> list[Any]:
    """python-socketio's convention: a tuple is several arguments, None none, anything else one."""
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]


def _always(_: str) -> bool:
    return True


def _watcher(server: Any) -> Callable[[str], bool] | None:
    """Which sockets' packets must go through the server's own ``_send_eio_packet`` (None: no socket's)."""
    if type(server)._send_eio_packet is socketio.AsyncServer._send_eio_packet:
        return None
    sees: Callable[[str], bool] | None = getattr(server, "sees_packets_of", None)
    return sees if sees is not None else _always


class BroadcastManager(socketio.AsyncManager):  # type: ignore[misc]
    """The in-process manager: one encoding per emit, packets queued without a task per socket."""

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is not None:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
            return
        if namespace not in self.rooms:
            return
        skip = skip_sid if isinstance(skip_sid, list) else (skip_sid,)
        pkt = eio_packet.Packet(eio_packet.MESSAGE, event_text(namespace, event, _arguments(data)))
        server = self.server
        watched = _watcher(server)
        eio = server.eio
        sockets = eio.sockets
        now = time.time()
        ping_timeout = eio.ping_timeout
        # Nothing below suspends unless a socket is watched or late, and those are awaited in the
        # loop's order: each socket gets this emit's packet in the order emits were made.
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            if watched is not None and watched(eio_sid):
                await server._send_eio_packet(eio_sid, pkt)
                continue
            socket = sockets.get(eio_sid)
            if socket is None or socket.closed:
                continue  # python-engineio drops these too (after a warning or an exception it swallows)
            last_ping = socket.last_ping
            if last_ping and now - last_ping > ping_timeout:
                # maybe gone: python-engineio's send checks it (and closes it); python-socketio's
                # emit ignores what that raises for a closed socket too
                with contextlib.suppress(Exception):
                    await socket.send(pkt)
                continue
            socket.queue.put_nowait(pkt)


class BroadcastRedisManager(socketio.AsyncRedisManager, BroadcastManager):  # type: ignore[misc]
    """The Redis pub/sub manager (several nodes) whose local delivery is ``BroadcastManager``'s.

    Its publishing emit is python-socketio's without the binary scan: payloads are JSON.
    """

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if kwargs.get("ignore_queue") or callback is not None:
            await super().emit(
                event, data, namespace=namespace or "/", room=room, skip_sid=skip_sid, callback=callback, **kwargs
            )
            return
        message = {
            "method": "emit",
            "event": event,
            "data": list(data) if isinstance(data, tuple) else [data],
            "binary": False,
            "namespace": namespace or "/",
            "room": room,
            "skip_sid": skip_sid,
            "callback": None,
            "host_id": self.host_id,
        }
        await self._handle_emit(message)  # this node
        await self._publish(message)  # the others
