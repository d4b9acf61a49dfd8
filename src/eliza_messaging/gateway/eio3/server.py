"""Servers that accept Engine.IO 3 (socket.io-client 1.x/2.x) beside Engine.IO 4 on one path.

Node's Socket.IO server has ``allowEIO3``; python-engineio answers ``EIO=3`` with HTTP 400.
These subclasses close that gap while leaving the protocol 4 path untouched:

``LegacyEngineIOServer`` (``engineio.AsyncServer``)
    * wraps the async driver's ``translate_request`` to look at each request's query once: an
      ``EIO=3`` handshake is let through python-engineio's version check (the query it sees says
      ``EIO=4``; the original is restored before any handler reads ``environ``), and requests
      for an existing protocol 3 session are tagged so the response is encoded for it;
    * ``_handle_connect``: protocol 3 handshake (client-side heartbeats) with an ``EIO3Socket``;
    * ``_ok``: protocol 3 polling payloads;
    * ``_bad_request``: the explanation sent when protocol 3 is disabled.

``LegacyCompatibleAsyncServer`` (``socketio.AsyncServer``)
    * Socket.IO protocol 3/4 for those clients: the default namespace counts as connected
      without a CONNECT packet (the server sends ``0`` right after the handshake), CONNECT
      carries no payload and connection errors are plain ERROR packets. Everything else
      (events, acks, binary events, rooms) is shared with protocol 5 clients, so a legacy
      client is an ordinary member of python-socketio rooms.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import engineio
import socketio
from engineio import exceptions
from engineio import packet as eio_packet
from socketio import packet as sio_packet

from ...protocol import payloads
from ...protocol.types import Event
from ..unreadable import unreadable_event
from .session import EIO3Socket

log = logging.getLogger("eliza_messaging.gateway.eio3")

#: Body of the HTTP 400 answered to Engine.IO 3 clients when ``allow_eio3`` is off.
EIO3_DISABLED_MESSAGE = (
    "Engine.IO protocol 3 (socket.io-client 1.x/2.x) is disabled on this server. "
    "Enable it with the environment variable ELIZA_ALLOW_EIO3=true, "
    "or upgrade the client to socket.io-client 4.x."
)

_EIO3_PARAM = re.compile(r"(?:(?<=&)|^)EIO=3(?=&|$)")


@dataclass
class _Request:
    """What one HTTP request means for protocol 3; lives for one ``handle_request`` call."""

    environ: dict[str, Any] | None = None
    original_query: str | None = None
    eio3_handshake: bool = False
    eio3_rejected: bool = False
    b64: bool = False
    socket: EIO3Socket | None = None


_CURRENT: contextvars.ContextVar[_Request | None] = contextvars.ContextVar("eliza_messaging_eio3_request", default=None)


def _truthy(query: dict[str, list[str]], name: str) -> bool:
    return bool(query.get(name, [""])[0])


class LegacyEngineIOServer(engineio.AsyncServer):  # type: ignore[misc]
    """``engineio.AsyncServer`` serving Engine.IO 3 and 4, chosen per connection by ``EIO``."""

    _async: dict[str, Any]
    start_service_task: bool
    sockets: dict[str, Any]

    def __init__(self, *args: Any, allow_eio3: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.allow_eio3 = allow_eio3
        # the driver table is shared by every server of the process: wrap a private copy
        self._async = dict(self._async)
        original: Callable[..., Any] = self._async["translate_request"]

        async def translate_request(*a: Any, **kw: Any) -> Any:
            environ = original(*a, **kw)
            if inspect.isawaitable(environ):
                environ = await environ
            if isinstance(environ, dict):
                self._classify_request(environ)
            return environ

        self._async["translate_request"] = translate_request

    def is_eio3(self, sid: str) -> bool:
        """Whether the Engine.IO session ``sid`` speaks protocol 3."""
        return isinstance(self.sockets.get(sid), EIO3Socket)

    # request entry -------------------------------------------------------------------------

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """python-engineio's handler, with per-request protocol 3 state around it."""
        state = _Request()
        token = _CURRENT.set(state)
        try:
            return await super().handle_request(*args, **kwargs)
        finally:
            if state.environ is not None and state.original_query is not None:
                state.environ["QUERY_STRING"] = state.original_query
            _CURRENT.reset(token)

    def _classify_request(self, environ: dict[str, Any]) -> None:
        """Note what the request means for protocol 3, before python-engineio checks its version."""
        state = _CURRENT.get()
        if state is None:
            return
        query_string = environ.get("QUERY_STRING", "")
        query = parse_qs(query_string)
        sid = query.get("sid", [None])[0]
        if sid is not None:
            socket = self.sockets.get(sid)
            if isinstance(socket, EIO3Socket):
                state.socket = socket
            return
        if query.get("EIO") != ["3"]:
            return
        if not self.allow_eio3:
            state.eio3_rejected = True
            self._log_error_once(EIO3_DISABLED_MESSAGE, "eio3-disabled")
            return
        state.eio3_handshake = True
        state.b64 = _truthy(query, "b64")
        state.environ = environ
        state.original_query = query_string
        # python-engineio refuses any EIO but 4 before it would call _handle_connect
        environ["QUERY_STRING"] = _EIO3_PARAM.sub("EIO=4", query_string)

    # handshake -----------------------------------------------------------------------------

    async def _handle_connect(self, environ: dict[str, Any], transport: str, jsonp_index: int | None = None) -> Any:
        """Protocol 3 handshake for ``EIO=3`` requests, python-engineio's own otherwise."""
        state = _CURRENT.get()
        if state is None or not state.eio3_handshake or state.environ is not environ:
            return await super()._handle_connect(environ, transport, jsonp_index)
        environ["QUERY_STRING"] = state.original_query
        state.original_query = None

        if self.start_service_task:
            self.start_service_task = False
            self.service_task_handle = self.start_background_task(self._service_task)

        sid = self.generate_id()
        socket = EIO3Socket(self, sid, b64=state.b64 or jsonp_index is not None)
        self.sockets[sid] = socket
        state.socket = socket
        await socket.send(
            eio_packet.Packet(
                eio_packet.OPEN,
                {
                    "sid": sid,
                    "upgrades": self._upgrades(sid, transport),
                    "pingInterval": int(self.ping_interval * 1000),
                    "pingTimeout": int(self.ping_timeout * 1000),
                },
            )
        )
        ret = await self._trigger_event("connect", sid, environ, run_async=False)
        if ret is not None and ret is not True:
            del self.sockets[sid]
            self.logger.warning("Application rejected connection")
            return self._unauthorized(ret or None)

        if transport == "websocket":
            ret = await socket.handle_get_request(environ)
            if socket.closed and sid in self.sockets:
                del self.sockets[sid]
            return ret
        socket.connected = True
        try:
            return self._ok(await socket.poll(), headers=self._cookie_headers(sid), jsonp_index=jsonp_index)
        except exceptions.QueueEmpty:
            return self._bad_request()

    def _cookie_headers(self, sid: str) -> list[tuple[str, str]] | None:
        """The session cookie, configured as for protocol 4 clients."""
        if not self.cookie:
            return None
        if isinstance(self.cookie, dict):
            attributes = self.cookie
        else:
            attributes = {"name": self.cookie, "path": "/", "SameSite": "Lax"}
        return [("Set-Cookie", self._generate_sid_cookie(sid, attributes))]

    # responses -----------------------------------------------------------------------------

    def _ok(
        self,
        packets: list[Any] | None = None,
        headers: list[tuple[str, str]] | None = None,
        jsonp_index: int | None = None,
    ) -> dict[str, Any]:
        """Polling responses to protocol 3 sessions use protocol 3 payloads."""
        state = _CURRENT.get()
        socket = state.socket if state is not None else None
        if packets is None or socket is None:
            return super()._ok(packets, headers=headers, jsonp_index=jsonp_index)  # type: ignore[no-any-return]
        body, content_type = socket.encode_poll_response(packets, jsonp_index)
        return {
            "status": "200 OK",
            "headers": [*(headers or []), ("Content-Type", content_type)],
            "response": body,
        }

    def _bad_request(self, message: str | None = None) -> dict[str, Any]:
        """Explain, in plain text, why an Engine.IO 3 client is refused when protocol 3 is off."""
        state = _CURRENT.get()
        if state is not None and state.eio3_rejected and message and "version" in message:
            return {
                "status": "400 BAD REQUEST",
                "headers": [("Content-Type", "text/plain; charset=UTF-8")],
                "response": EIO3_DISABLED_MESSAGE.encode("utf-8"),
            }
        return super()._bad_request(message)  # type: ignore[no-any-return]


class LegacyCompatibleAsyncServer(socketio.AsyncServer):  # type: ignore[misc]
    """``socketio.AsyncServer`` that also serves socket.io-client 1.x and 2.x on the same path.

    Takes every ``socketio.AsyncServer`` argument plus ``allow_eio3`` (default True). Connect
    handlers get the handshake ``environ`` (query included) and ``auth=None`` for those clients.
    """

    def __init__(self, *args: Any, allow_eio3: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, allow_eio3=allow_eio3, **kwargs)

    def _engineio_server_class(self) -> type[LegacyEngineIOServer]:
        return LegacyEngineIOServer

    @property
    def allow_eio3(self) -> bool:
        """Whether Engine.IO 3 handshakes are accepted (existing sessions are not affected)."""
        return bool(self.eio.allow_eio3)

    @allow_eio3.setter
    def allow_eio3(self, value: bool) -> None:
        self.eio.allow_eio3 = value

    def is_legacy(self, sid: str, namespace: str | None = None) -> bool:
        """Whether ``sid`` (a Socket.IO sid, or an Engine.IO sid) is a socket.io-client 1.x/2.x client."""
        namespaces = [namespace or "/"] if namespace else ["/", *self.manager.get_namespaces()]
        for ns in namespaces:
            eio_sid = self.manager.eio_sid_from_sid(sid, ns)
            if eio_sid is not None:
                return bool(self.eio.is_eio3(eio_sid))
        return bool(self.eio.is_eio3(sid))

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """A packet whose JSON cannot be read is answered (ack and messageError), not dropped in silence."""
        try:
            await super()._handle_eio_message(eio_sid, data)
        except ValueError as exc:
            unreadable = unreadable_event(data, exc)
            log.debug("unreadable packet", extra={"eio_sid": eio_sid, "error": str(exc)[:200]})
            if unreadable is None:
                return
            namespace, ack_id, body = unreadable
            if self.manager.sid_from_eio_sid(eio_sid, namespace) is None:
                return  # not connected to that namespace: nobody to answer
            await self._send_packet(
                eio_sid, self.packet_class(sio_packet.EVENT, namespace=namespace, data=[Event.MESSAGE_ERROR, body])
            )
            if ack_id is not None:
                ack = payloads.ack_error(body)
                await self._send_packet(
                    eio_sid, self.packet_class(sio_packet.ACK, namespace=namespace, data=[ack], id=ack_id)
                )

    # Socket.IO protocol 3/4 differences ------------------------------------------------------

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        """Legacy clients are in the default namespace as soon as Engine.IO is open."""
        ret = await super()._handle_eio_connect(eio_sid, environ)
        if (ret is None or ret is True) and self.eio.is_eio3(eio_sid):
            await self._handle_connect(eio_sid, "/", None)
        return ret

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        """Ignore a legacy client's CONNECT for ``/``: it is connected there already."""
        if (
            (namespace or "/") == "/"
            and self.eio.is_eio3(eio_sid)
            and self.manager.sid_from_eio_sid(eio_sid, "/") is not None
        ):
            return
        await super()._handle_connect(eio_sid, namespace, data)

    async def _send_packet(self, eio_sid: str, pkt: Any) -> None:
        """CONNECT has no payload and CONNECT_ERROR is a plain ERROR in protocol 3/4."""
        if pkt.packet_type in (sio_packet.CONNECT, sio_packet.CONNECT_ERROR) and self.eio.is_eio3(eio_sid):
            data = None
            if pkt.packet_type == sio_packet.CONNECT_ERROR:
                data = pkt.data
                if isinstance(data, dict):
                    data = data.get("data", data.get("message"))
            pkt = self.packet_class(pkt.packet_type, data=data, namespace=pkt.namespace)
        await super()._send_packet(eio_sid, pkt)


def is_legacy(sio: Any, sid: str, namespace: str | None = None) -> bool:
    """Whether ``sid`` on ``sio`` is a socket.io-client 1.x/2.x (Engine.IO 3) client.

    False for any server that is not a ``LegacyCompatibleAsyncServer``.
    """
    if isinstance(sio, LegacyCompatibleAsyncServer):
        return sio.is_legacy(sid, namespace)
    return False
