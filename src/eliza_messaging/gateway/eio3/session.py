"""An Engine.IO 3 session: python-engineio's ``AsyncSocket`` with protocol 3 heartbeats and framing.

Only what differs from protocol 4 is overridden:

* heartbeats run the other way round: the client pings, the server answers with a pong and
  closes the session when nothing arrived for ``ping_interval + ping_timeout``;
* POST bodies are protocol 3 payloads (text, XHR2 binary or JSONP);
* websocket frames carry a type byte before binary data, which an adapter adds and strips so
  that python-engineio's own websocket loop (probe/upgrade dance included) runs unchanged.

Polling responses are encoded by the server (``LegacyEngineIOServer._ok``), which knows the request.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any
from urllib.parse import parse_qs

from engineio import exceptions
from engineio import packet as eio_packet

from ..engine_socket import QueuedSocket
from . import codec as eio3


class _EIO3WebSocket:
    """Wraps a python-engineio websocket so protocol 4 framing is translated to protocol 3.

    python-engineio reads and writes protocol 4 frames (``Packet.encode()``); the only
    differences are binary frames (protocol 3 prefixes the type byte) and base64 text frames
    (``b4<base64>`` instead of ``b<base64>``).
    """

    def __init__(self, ws: Any, b64: bool) -> None:
        self._ws = ws
        self._b64 = b64

    async def wait(self) -> Any:
        data = await self._ws.wait()
        if isinstance(data, bytes | bytearray):
            if not data or data[0] != eio3.MESSAGE:
                raise OSError("protocol 3 binary frame without the message type byte")
            return bytes(data[1:])
        if isinstance(data, str) and data.startswith("b"):
            if data[1:2] != str(eio3.MESSAGE):
                raise OSError("protocol 3 base64 frame of a type other than message")
            return "b" + data[2:]
        return data

    async def send(self, message: Any) -> None:
        if isinstance(message, str) and message.startswith("b"):
            # python-engineio's base64 form of a binary message
            try:
                message = base64.b64decode(message[1:])
            except binascii.Error:  # pragma: no cover - engineio produced it
                return
        if isinstance(message, bytes | bytearray):
            pkt = eio_packet.Packet(eio_packet.MESSAGE, data=bytes(message))
            message = eio3.encode_ws_frame(pkt, b64=self._b64)
        await self._ws.send(message)

    async def close(self) -> None:
        await self._ws.close()


class EIO3Socket(QueuedSocket):
    """One protocol 3 client session; ``b64`` clients (no XHR2) get text payloads only."""

    protocol = 3

    def __init__(self, server: Any, sid: str, *, b64: bool = False) -> None:
        super().__init__(server, sid)
        self.b64 = b64
        self.ws_b64 = False
        self.text_flavor = eio3.TextFlavor.UNKNOWN
        # for protocol 3, ``last_ping`` is the last time the client was heard from
        self.last_ping = time.time()

    # heartbeats ---------------------------------------------------------------------------

    def schedule_ping(self) -> None:
        """Protocol 3 servers never ping: the client does, every ``pingInterval``."""

    async def check_ping_timeout(self) -> bool:
        """Close the session once the client has been silent longer than its ping cycle allows."""
        if self.closed:
            raise exceptions.SocketIsClosedError()
        server = self.server
        allowed = server.ping_interval + server.ping_interval_grace_period + server.ping_timeout
        if time.time() - self.last_ping > allowed:
            server.logger.info("%s: protocol 3 client stopped pinging, closing socket", self.sid)
            await self.close(wait=False, abort=False, reason=server.reason.PING_TIMEOUT)
            return False
        return True

    async def receive(self, pkt: Any) -> None:
        """Answer pings with pongs (echoing the data); any packet proves the client alive."""
        self.last_ping = time.time()
        if pkt.packet_type == eio_packet.PING:
            self.server.logger.info("%s: Received packet PING data %s", self.sid, pkt.data)
            await self.send(eio_packet.Packet(eio_packet.PONG, data=pkt.data or None))
        elif pkt.packet_type == eio_packet.PONG:
            pass  # only an answer to a ping we never send; ignore like engine.io 3 does
        else:
            await super().receive(pkt)

    # polling ------------------------------------------------------------------------------

    async def handle_post_request(self, environ: dict[str, Any]) -> None:
        """Decode a protocol 3 POST body (text, XHR2 binary or JSONP form) and receive its packets."""
        length = int(environ.get("CONTENT_LENGTH") or "0")
        if length > self.server.max_http_buffer_size:
            raise exceptions.ContentTooLongError()
        body = await environ["wsgi.input"].read(length)
        try:
            for pkt in self.decode_post_body(body, environ.get("CONTENT_TYPE")):
                await self.receive(pkt)
        except eio3.PayloadError as exc:
            self.server.logger.info("%s: bad protocol 3 payload: %s", self.sid, exc)
            # close without waiting for the queue to drain (nobody may poll it again); the
            # server then answers 400 and forgets the session
            await self.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR)
            raise exceptions.EngineIOError(str(exc)) from exc

    def decode_post_body(self, body: bytes, content_type: str | None) -> list[Any]:
        """The packets of one POST body, learning the client's text flavor on the way."""
        if eio3.is_binary_payload(body, content_type):
            return eio3.decode_binary_payload(body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise eio3.PayloadError(f"text payload is not UTF-8: {exc}") from exc
        if text.startswith("d="):
            text = eio3.decode_jsonp_body(text)
        packets, self.text_flavor = eio3.decode_text_payload(text, self.text_flavor)
        return packets

    def encode_poll_response(self, packets: list[Any], jsonp_index: int | None) -> tuple[bytes, str]:
        """Body and content type of a polling response for this client."""
        if jsonp_index is not None:
            text = eio3.encode_jsonp(eio3.encode_text_payload(packets, self.text_flavor), jsonp_index)
            return text.encode("utf-8"), eio3.JSONP_CONTENT_TYPE
        if self.b64:
            text = eio3.encode_text_payload(packets, self.text_flavor)
            return text.encode("utf-8", "surrogatepass"), eio3.TEXT_CONTENT_TYPE
        # XHR2 clients: always the binary framing. socket.io-client 1.x reads nothing else when
        # it supports binary (a text response is taken as "ok"), and 2.x reads both.
        return eio3.encode_binary_payload(packets), eio3.BINARY_CONTENT_TYPE

    # websocket ----------------------------------------------------------------------------

    async def _upgrade_websocket(self, environ: dict[str, Any]) -> Any:
        """Remember whether the websocket request asked for base64 (``b64``) before upgrading."""
        query = parse_qs(environ.get("QUERY_STRING", ""))
        self.ws_b64 = bool(query.get("b64", [""])[0])
        return await super()._upgrade_websocket(environ)

    async def _websocket_handler(self, ws: Any) -> Any:
        """Run python-engineio's websocket loop over a protocol 3 framing adapter."""
        return await super()._websocket_handler(_EIO3WebSocket(ws, self.ws_b64))
