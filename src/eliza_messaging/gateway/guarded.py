"""The Socket.IO server the app runs: the legacy-compatible server, with every buffer bounded.

``GuardedEngineIOServer`` (Engine.IO, per connection)
    * caps connections per client address (``max_connections_per_ip``): the next handshake gets
      HTTP 429 with the reason;
    * bounds each socket's outgoing queue (``max_buffer_bytes``, ``outbuffer.MeteredQueue``): a
      socket over it is disconnected and the reason logged; websocket writes time out
      (``write_timeout_s``) instead of waiting for a stalled reader forever;
    * refuses a polling POST that carries more packets than ``max_post_packets`` (counted before
      decoding) and a second POST of one session while the first is still being read.

``GuardedAsyncServer`` (Socket.IO, per event)
    * checks each event against the socket's token bucket on the raw packet, before any JSON is
      decoded or any task exists; a refused event with an ack callback gets the error as its ack,
      the socket hears ``messageError`` at most once per interval, and a socket that keeps
      flooding gets a last ``messageError`` with the reason and is disconnected;
    * runs a socket's events one after another in its own lane (``flow.SocketLanes``), so one
      sender's messages are stored and broadcast in the order they were sent;
    * refuses binary events: the protocol is JSON (attachments are URLs).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from engineio.async_drivers import asgi
from socketio import packet as sio_packet

from ..protocol import payloads
from ..protocol.types import Event
from .eio3 import LegacyCompatibleAsyncServer
from .eio3.server import LegacyEngineIOServer
from .eio3.session import EIO3Socket
from .engine_socket import adopt
from .flow import FloodGuard, PacketHeader, Refusal, SocketLanes, packet_header
from .ip_limit import ConnectionsPerAddress, client_address
from .outbuffer import MeteredQueue, TimedWebSocket, WriteWatch

log = logging.getLogger("eliza_messaging.gateway.guarded")

BINARY_REFUSED = (
    "Binary data is not part of this protocol: send JSON only (text in 'message', files as URLs in"
    " 'attachments'). This event was not handled."
)

#: Events one socket may have waiting in its lane when no burst is configured.
DEFAULT_MAX_PENDING = 500

_ASGIReceive = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class _Handshake:
    """One connection attempt that holds a place in its address's count until it becomes a session."""

    address: str
    sid: str | None = None


_HANDSHAKE: contextvars.ContextVar[_Handshake | None] = contextvars.ContextVar("eliza_handshake", default=None)


def _query_sid(scope: dict[str, Any]) -> str | None:
    raw = scope.get("query_string") or b""
    try:
        query = parse_qs(raw.decode("latin-1"))
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes every byte
        return None
    sids = query.get("sid")
    return sids[0] if sids else None


async def _read_body(receive: _ASGIReceive, limit: int) -> tuple[bytes, _ASGIReceive]:
    """Read an HTTP body (up to a little past ``limit``) and a ``receive`` that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more and size <= limit:
        event = await receive()
        if event.get("type") != "http.request":
            break
        chunk = event.get("body") or b""
        chunks.append(chunk)
        size += len(chunk)
        more = bool(event.get("more_body"))
    body = b"".join(chunks)
    replayed = False

    async def replay() -> dict[str, Any]:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return body, replay


class GuardedEngineIOServer(LegacyEngineIOServer):
    """Engine.IO 3 and 4, with connections per address, output per socket and POST size bounded."""

    def __init__(
        self,
        *args: Any,
        max_buffer_bytes: int = 0,
        max_connections_per_ip: int = 0,
        max_post_packets: int = 0,
        write_timeout_s: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_buffer_bytes = max_buffer_bytes
        self.max_post_packets = max_post_packets
        self.write_watch = WriteWatch(write_timeout_s)
        self.connections = ConnectionsPerAddress(max_connections_per_ip)
        self._address_of: dict[str, str] = {}
        self._posting: set[str] = set()
        if self._async.get("websocket") is asgi.WebSocket:
            self._async["websocket"] = TimedWebSocket

    # outgoing buffer -----------------------------------------------------------------------

    def create_queue(self, *args: Any, **kwargs: Any) -> Any:
        """Each socket's outgoing queue (python-engineio asks for one per socket), metered when bounded."""
        if self.max_buffer_bytes > 0 and not args and not kwargs:
            return MeteredQueue(self.max_buffer_bytes, self._overflowed)
        return super().create_queue(*args, **kwargs)

    def _overflowed(self, queue: MeteredQueue, held: int) -> None:
        sid = next((sid for sid, s in self.sockets.items() if s.queue is queue), None)
        log.warning(
            "socket disconnected: it does not read what is sent to it",
            extra={"sid": sid, "buffered_bytes": held, "limit_bytes": self.max_buffer_bytes},
        )
        if sid is not None:
            self.start_background_task(self._close_overflowed, sid)

    async def _close_overflowed(self, sid: str) -> None:
        socket = self.sockets.get(sid)
        if socket is not None:
            await socket.close(wait=False, abort=True, reason=self.reason.SERVER_DISCONNECT)

    # connections per address ---------------------------------------------------------------

    async def _handle_connect(self, environ: dict[str, Any], transport: str, jsonp_index: int | None = None) -> Any:
        address = client_address(environ)
        if not self.connections.acquire(address):
            log.warning(
                "connection refused: too many from one address",
                extra={"address": address, "limit": self.connections.limit},
            )
            return {
                "status": "429 Too Many Requests",
                "headers": [("Content-Type", "text/plain; charset=UTF-8")],
                "response": self.connections.refusal(address).encode("utf-8"),
            }
        handshake = _Handshake(address)
        token = _HANDSHAKE.set(handshake)
        try:
            return await super()._handle_connect(environ, transport, jsonp_index)
        finally:
            _HANDSHAKE.reset(token)
            if handshake.sid is None:  # it never became a session: refused, or failed
                self.connections.release(address)

    async def _trigger_event(self, event: str, *args: Any, **kwargs: Any) -> Any:
        """Bind a new session to its handshake's address; free the place when it ends or is refused."""
        if event == "connect":
            handshake = _HANDSHAKE.get()
            sid = args[0]
            if handshake is not None and handshake.sid is None:
                handshake.sid = sid
                self._address_of[sid] = handshake.address
            adopt(self.sockets.get(sid))  # its cheaper wait for outgoing packets (engine_socket.py)
            ret = await super()._trigger_event(event, *args, **kwargs)
            if ret is not None and ret is not True:
                self._release(sid)
            return ret
        if event == "disconnect":
            self._release(args[0])
        return await super()._trigger_event(event, *args, **kwargs)

    def _release(self, sid: str) -> None:
        address = self._address_of.pop(sid, None)
        if address is not None:
            self.connections.release(address)

    # polling POSTs -------------------------------------------------------------------------

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """Refuse overlapping POSTs of one session, and protocol 4 POSTs with too many packets."""
        scope = args[0] if args and isinstance(args[0], dict) else None
        if scope is None or scope.get("type") != "http" or scope.get("method") != "POST" or len(args) < 3:
            return await super().handle_request(*args, **kwargs)
        sid = _query_sid(scope)
        socket = self.sockets.get(sid) if sid is not None else None
        if sid is None or socket is None:
            return await super().handle_request(*args, **kwargs)
        receive, send = args[1], args[2]
        if sid in self._posting:
            log.info("polling POST refused: another POST of this session is in progress", extra={"sid": sid})
            return await self._refuse_post(
                scope,
                receive,
                send,
                "Another POST of this session is still being handled: send one POST at a time.",
            )
        self._posting.add(sid)
        try:
            if self.max_post_packets > 0 and not isinstance(socket, EIO3Socket):
                body, receive = await _read_body(receive, self.max_http_buffer_size)
                packets = body.count(b"\x1e") + 1
                if packets > self.max_post_packets:
                    log.warning(
                        "polling POST refused: too many packets",
                        extra={"sid": sid, "packets": packets, "limit": self.max_post_packets},
                    )
                    await socket.close(wait=False, abort=True, reason=self.reason.TRANSPORT_ERROR)
                    return await self._refuse_post(
                        scope,
                        receive,
                        send,
                        f"This polling request carried {packets} packets; the server accepts at most"
                        f" {self.max_post_packets} in one request (ELIZA_SOCKET_BURST). Send fewer messages at once.",
                    )
            return await super().handle_request(scope, receive, send, *args[3:], **kwargs)
        finally:
            self._posting.discard(sid)

    async def _refuse_post(self, scope: dict[str, Any], receive: _ASGIReceive, send: Any, message: str) -> Any:
        environ = await self._async["translate_request"](scope, receive, send)
        return await self._make_response(self._bad_request(message), environ)


class GuardedAsyncServer(LegacyCompatibleAsyncServer):
    """The app's Socket.IO server: events in order per socket, floods refused before they cost anything."""

    def __init__(
        self,
        *args: Any,
        socket_rate: float = 0.0,
        socket_burst: int = 0,
        max_pending_events: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.guard = FloodGuard(socket_rate, socket_burst)
        self.lanes = SocketLanes()
        # Called with each new socket's sid once its namespace CONNECT packet is sent, so what is said
        # to a socket on arrival (``authenticated``, ``connection_established``) comes after it, as
        # Socket.IO clients expect; the connect handler runs before python-socketio sends that packet.
        self.on_connected: Callable[[str], Awaitable[None]] | None = None
        # a socket's lane holds at most a burst's worth of events; more waiting means it is flooding
        self.max_pending_events = max_pending_events or (socket_burst if socket_burst > 0 else DEFAULT_MAX_PENDING)
        super().__init__(*args, **kwargs)

    def _engineio_server_class(self) -> type[GuardedEngineIOServer]:
        return GuardedEngineIOServer

    async def shutdown(self) -> None:
        await self.lanes.close()
        await super().shutdown()

    # incoming packets ----------------------------------------------------------------------

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """Count events on the raw packet; refuse floods and binary events before decoding them."""
        if eio_sid not in self._binary_packet:
            if isinstance(data, str) and data[:1] in ("2", "5"):
                busy = self.lanes.pending(eio_sid) >= self.max_pending_events
                refusal = self.guard.check(eio_sid, busy=busy)
                if refusal is not None:
                    await self._refuse(eio_sid, packet_header(data), refusal)
                    return
                if data[:1] == "5":
                    await self._refuse_binary(eio_sid, packet_header(data))
                    return
            elif isinstance(data, bytes | bytearray):
                return  # an attachment of a binary event refused above
        await super()._handle_eio_message(eio_sid, data)

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        namespace = namespace or "/"
        before = self.manager.sid_from_eio_sid(eio_sid, namespace)
        repeat = before is not None and self.manager.is_connected(before, namespace)  # Engine.IO 3: no new socket
        await super()._handle_connect(eio_sid, namespace, data)
        if repeat or self.on_connected is None:
            return
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None and self.manager.is_connected(sid, namespace):
            await self.on_connected(sid)

    async def _handle_event(self, eio_sid: str, namespace: str | None, id: int | None, data: Any) -> None:
        """Queue the event in its socket's lane instead of a task of its own: arrival order is kept."""
        namespace = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if not self.manager.is_connected(sid, namespace):
            log.debug("event from a socket not connected to the namespace", extra={"sid": eio_sid})
            return

        async def handle() -> None:
            await self._handle_event_internal(self, sid, eio_sid, data, namespace, id)

        self.lanes.submit(eio_sid, handle)

    async def _handle_eio_disconnect(self, eio_sid: str, reason: Any) -> None:
        self.guard.forget(eio_sid)
        await super()._handle_eio_disconnect(eio_sid, reason)

    # refusals ------------------------------------------------------------------------------

    async def _refuse(self, eio_sid: str, header: PacketHeader, refusal: Refusal) -> None:
        if header.ack_id is None and not refusal.notify:
            return  # the cheapest refusal: nothing to answer, already told in this interval
        body = payloads.message_error(
            self.guard.message(refusal), code="RATE_LIMITED", retryAfterMs=refusal.retry_after_ms
        )
        await self._tell(eio_sid, header, body, notify=refusal.notify)
        if refusal.expel:
            log.warning(
                "socket disconnected: it kept sending over the rate after being told to wait",
                extra={"sid": eio_sid, "rate": self.guard.rate, "burst": self.guard.burst},
            )
            self.start_background_task(self._expel, eio_sid, header.namespace)

    async def _refuse_binary(self, eio_sid: str, header: PacketHeader) -> None:
        log.info("binary event refused", extra={"sid": eio_sid})
        body = payloads.message_error(BINARY_REFUSED, code="INVALID_PAYLOAD", field="attachments")
        await self._tell(eio_sid, header, body, notify=True)

    async def _tell(self, eio_sid: str, header: PacketHeader, body: dict[str, Any], *, notify: bool) -> None:
        """The error as the event's ack (when it asked for one) and, when ``notify``, as ``messageError``."""
        if header.ack_id is not None:
            ack = self.packet_class(
                sio_packet.ACK, namespace=header.namespace, id=header.ack_id, data=[payloads.ack_error(body)]
            )
            await self._send_packet(eio_sid, ack)
        if notify:
            event = self.packet_class(sio_packet.EVENT, namespace=header.namespace, data=[Event.MESSAGE_ERROR, body])
            await self._send_packet(eio_sid, event)

    async def _expel(self, eio_sid: str, namespace: str) -> None:
        """Socket.IO DISCONNECT (the client will not reconnect on its own), then close the Engine.IO session."""
        sid = self.manager.sid_from_eio_sid(eio_sid, namespace)
        if sid is not None:
            await self.disconnect(sid, namespace=namespace)
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None:
            await socket.close(wait=False, abort=False, reason=self.eio.reason.SERVER_DISCONNECT)
            socket.queue.put_nowait(None)  # let the writer send what is queued, then end the connection
