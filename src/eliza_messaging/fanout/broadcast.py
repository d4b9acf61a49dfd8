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

Connection-state recovery (``recovery.py``): a room broadcast emitted with ``logged=True`` is logged
once and its offset appended to the one encoded text as the last argument (``with_offset``: a string
operation, not a second encoding); the packet carries it as ``pkt.offset`` for the server to see.
Engine.IO 3 sockets (socket.io-client 1.x/2.x never recover) get the text without it. With Redis the
log is a stream: one Lua script appends to it, trims it (count and age) and publishes the broadcast
with its offset, one round trip; every node, this one included, delivers it from the subscription,
so each socket gets packets in the stream's order and the offset it keeps last is the newest it has.
Emits that are not logged travel the same subscription then, to keep their order with the others.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import orjson
import socketio
from engineio import packet as eio_packet

from .recovery import PacketLog, skipped, with_offset

log = logging.getLogger(__name__)

# KEYS: the log stream. ARGV: the message before and after its offset, the log's length and age (ms),
# the text, room and skipped sids for the log, the pub/sub channel.
_LOG_AND_PUBLISH: Final = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[3], '*', 't', ARGV[5], 'r', ARGV[6], 'x', ARGV[7])
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[4])
if oldest > 0 then redis.call('XTRIM', KEYS[1], 'MINID', string.format('%d', oldest)) end
redis.call('PUBLISH', ARGV[8], ARGV[1] .. id .. ARGV[2])
return id
"""


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

    #: Room broadcasts emitted with ``logged=True`` are logged here (None: recovery is off).
    packet_log: PacketLog | None = None

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        logged: bool = False,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is not None:
            await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, **kwargs)
            return
        packet_log = self.packet_log
        if logged and packet_log is not None:  # logged even when nobody is here now: someone may come back
            text = event_text(namespace, event, _arguments(data))
            await self._deliver(namespace, room, skip_sid, text, packet_log.append(text, room, skip_sid))
        elif namespace in self.rooms:
            await self._deliver(namespace, room, skip_sid, event_text(namespace, event, _arguments(data)), None)

    async def _deliver(self, namespace: str, room: Any, skip_sid: Any, text: str, offset: str | None) -> None:
        """Queue one encoded event for every socket of ``room`` on this node (less ``skip_sid``)."""
        if namespace not in self.rooms:
            return
        skip = skipped(skip_sid)
        pkt = eio_packet.Packet(eio_packet.MESSAGE, text if offset is None else with_offset(text, offset))
        plain = None  # the text without the offset, for Engine.IO 3 sockets
        if offset is not None:
            pkt.offset = offset
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
            socket = sockets.get(eio_sid)
            out = pkt
            if offset is not None and getattr(socket, "protocol", 4) == 3:
                if plain is None:
                    plain = eio_packet.Packet(eio_packet.MESSAGE, text)
                out = plain
            if watched is not None and watched(eio_sid):
                await server._send_eio_packet(eio_sid, out)
                continue
            if socket is None or socket.closed:
                continue  # python-engineio drops these too (after a warning or an exception it swallows)
            last_ping = socket.last_ping
            if last_ping and now - last_ping > ping_timeout:
                # maybe gone: python-engineio's send checks it (and closes it); python-socketio's
                # emit ignores what that raises for a closed socket too
                with contextlib.suppress(Exception):
                    await socket.send(out)
                continue
            socket.queue.put_nowait(out)


class BroadcastRedisManager(socketio.AsyncRedisManager, BroadcastManager):  # type: ignore[misc]
    """The Redis pub/sub manager (several nodes) whose local delivery is ``BroadcastManager``'s.

    Its publishing emit is python-socketio's without the binary scan: payloads are JSON. With
    ``log_stream`` set (recovery on), the log is that Redis stream and delivery goes through the
    subscription on every node (see the module docstring).
    """

    log_stream: str | None = None
    log_window_ms: int = 0
    log_max: int = 0
    _script: Any = None

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        logged: bool = False,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if kwargs.get("ignore_queue") or callback is not None:
            await super().emit(
                event, data, namespace=namespace or "/", room=room, skip_sid=skip_sid, callback=callback, **kwargs
            )
            return
        namespace = namespace or "/"
        if self.log_stream is not None:
            text = event_text(namespace, event, _arguments(data))
            message = {
                "method": "emit",
                "event": event,
                "text": text,
                "namespace": namespace,
                "room": room,
                "skip_sid": skip_sid,
                "host_id": "",  # not this node's: its own subscription delivers it here too, in order
                "offset": "",
            }
            if logged:
                await self._log_and_publish(message, text, room, skip_sid)
            else:
                await self._publish(message)
            return
        message = {
            "method": "emit",
            "event": event,
            "data": list(data) if isinstance(data, tuple) else [data],
            "binary": False,
            "namespace": namespace,
            "room": room,
            "skip_sid": skip_sid,
            "callback": None,
            "host_id": self.host_id,
        }
        await self._handle_emit(message)  # this node
        await self._publish(message)  # the others

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        text = message.get("text")
        if not isinstance(text, str):
            await super()._handle_emit(message)
            return
        offset = message.get("offset")
        await self._deliver(
            message.get("namespace") or "/",
            message.get("room"),
            message.get("skip_sid"),
            text,
            offset if isinstance(offset, str) and offset else None,
        )

    async def _log_and_publish(self, message: dict[str, Any], text: str, room: Any, skip_sid: Any) -> None:
        encoded = orjson.dumps(message)  # ends with "offset":""} : the script puts the offset between the quotes
        args = [
            encoded[:-2],
            encoded[-2:],
            self.log_max,
            self.log_window_ms,
            text,
            room if isinstance(room, str) else "",
            orjson.dumps(list(skipped(skip_sid))),
            self.channel,
        ]
        for attempt in (1, 2):
            try:
                if not getattr(self, "connected", False):
                    self._redis_connect()
                if self._script is None:
                    self._script = self.redis.register_script(_LOG_AND_PUBLISH)
                await self._script(keys=[self.log_stream], args=args, client=self.redis)
                return
            except Exception as exc:  # python-socketio's _publish gives up the same way
                log.error("broadcast not logged and published", extra={"error": str(exc), "attempt": attempt})
                self.connected = False
