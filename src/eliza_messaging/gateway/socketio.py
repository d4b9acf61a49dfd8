"""Socket.IO event handlers: one function per event of SPEC.md, each translating and calling messaging.

Every ``message`` emit that carries an ack callback gets it called with the outcome; errors
also go to the sender as ``messageError`` so clients without callbacks see them too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import orjson
import socketio

from ..messaging import metrics, validation
from ..messaging.errors import IdentityMismatch, InvalidPayload, MessagingError, RateLimited
from ..messaging.service import MessagingService
from ..protocol import payloads
from ..protocol.types import Event, SocketMessageType
from ..types import JsonObject
from .callers import Authenticator, Refused
from .logstream import LogStream
from .recovery import RecoveringAsyncServer, recovered_caller, session_rooms

log = logging.getLogger("eliza_messaging.events")


def _size(data: Any) -> int:
    try:
        return len(orjson.dumps(data))
    except TypeError:
        return -1


def _room_of(data: Any) -> str | None:
    body = data.get("payload", data) if isinstance(data, dict) else None
    if isinstance(body, dict):
        room = body.get("channelId") or body.get("roomId")
        return room if isinstance(room, str) else None
    return None


class SocketGateway:
    """Registers the handlers on ``server`` and keeps no domain state of its own."""

    def __init__(
        self,
        server: socketio.AsyncServer,
        messaging: MessagingService,
        *,
        api_key: str | None = None,
        logs: LogStream | None = None,
        authenticator: Authenticator | None = None,
    ) -> None:
        self.server = server
        self.messaging = messaging
        self.authenticator = authenticator or Authenticator(api_key=api_key)
        self.logs = logs
        self.recovery = server if isinstance(server, RecoveringAsyncServer) else None
        server.on("connect", self.on_connect)
        # The app's server (guarded.py) greets a socket after its CONNECT packet; a plain one, in the handler.
        self._greets_after_connect = hasattr(server, "on_connected")
        if self._greets_after_connect:
            server.on_connected = self.messaging.welcome
        server.on("disconnect", self.on_disconnect)
        server.on(Event.MESSAGE, self.on_message)
        server.on(Event.JOIN_SHORT, self.on_join)
        server.on(Event.SEND_SHORT, self.on_send)
        server.on(Event.TYPING, self.on_typing)
        server.on("subscribe_logs", self.on_subscribe_logs)
        server.on("unsubscribe_logs", self.on_unsubscribe_logs)
        server.on("update_log_filters", self.on_update_log_filters)
        server.on("*", self.on_unknown)

    # connection -------------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        headers = {"x-api-key": environ.get("HTTP_X_API_KEY"), "authorization": environ.get("HTTP_AUTHORIZATION")}
        try:
            caller = await self.authenticator.socket(auth, query, {k: v for k, v in headers.items() if v})
            log.debug("connect", extra={"sid": sid, "entity_id": caller.entity_id, "transport": query.get("transport")})
            recovery = self.recovery
            session = recovery.recovering(sid) if recovery is not None else None
            if recovery is not None and session is not None:  # connection-state recovery (recovery.py)
                caller = recovered_caller(caller, session)
                rooms, announce = session_rooms(session), session.get("left") is True
                await self.messaging.recover(sid, caller, pid=str(session["pid"]), rooms=rooms, announce=announce)
            else:
                pid = recovery.new_pid(sid) if recovery is not None else None
                await self.messaging.connect(sid, caller, pid=pid)
                if recovery is not None and pid is not None:
                    recovery.bind_pid(sid, pid)
            if not self._greets_after_connect:
                await self.messaging.welcome(sid)
        except Refused as exc:
            log.info("connection refused", extra={"sid": sid, "reason": exc.reason})
            raise socketio.exceptions.ConnectionRefusedError(exc.reason) from None
        except IdentityMismatch as exc:
            log.info("connection refused", extra={"sid": sid, "reason": exc.message})
            raise socketio.exceptions.ConnectionRefusedError(exc.message) from None

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        log.debug("disconnect", extra={"sid": sid, "reason": reason})
        if self.logs is not None:
            self.logs.unsubscribe(sid)
        state = await self.messaging.disconnect(sid)
        if self.recovery is not None:
            await self.recovery.save_session(sid, state, reason, stopping=self.messaging.gate.closing)

    # messages ---------------------------------------------------------------------------

    async def on_message(self, sid: str, data: Any = None) -> JsonObject:
        self._trace(Event.MESSAGE, sid, data)

        async def run() -> JsonObject:
            kind, body = validation.envelope(data)
            if kind is SocketMessageType.ROOM_JOINING:
                return await self._join(sid, body)
            return await self._send(sid, body)

        return await self._answer(sid, run, data)

    async def on_join(self, sid: str, data: Any = None) -> JsonObject:
        self._trace(Event.JOIN_SHORT, sid, data)
        return await self._answer(sid, lambda: self._join(sid, data), data)

    async def on_send(self, sid: str, data: Any = None) -> JsonObject:
        self._trace(Event.SEND_SHORT, sid, data)
        return await self._answer(sid, lambda: self._send(sid, data), data)

    async def on_typing(self, sid: str, data: Any = None) -> JsonObject:
        self._trace(Event.TYPING, sid, data)

        async def run() -> JsonObject:
            caller = self.messaging.presence.caller(sid)
            command = validation.typing(data, socket_entity_id=caller.entity_id)
            await self.messaging.typing(sid, command, caller=caller)
            return payloads.ack_ok({})

        return await self._answer(sid, run, data)

    # log streaming -----------------------------------------------------------------------

    async def on_subscribe_logs(self, sid: str, data: Any = None) -> JsonObject:
        self._trace("subscribe_logs", sid, data)

        async def run() -> JsonObject:
            if self.logs is None:
                body = {"subscribed": False, "message": "Log streaming is not enabled on this server."}
            else:
                self.logs.subscribe(sid)
                body = {
                    "subscribed": True,
                    "message": "Subscribed to this server's logs (no message text is streamed).",
                }
            await self._emit("log_subscription_confirmed", body, sid)
            if not body["subscribed"]:
                return payloads.ack_error({"error": body["message"], "code": "NOT_ENABLED"})
            return payloads.ack_ok(body)

        return await self._answer(sid, run, data)

    async def on_unsubscribe_logs(self, sid: str, data: Any = None) -> JsonObject:
        self._trace("unsubscribe_logs", sid, data)

        async def run() -> JsonObject:
            if self.logs is not None:
                self.logs.unsubscribe(sid)
            body = {"subscribed": False, "message": "Unsubscribed from logs."}
            await self._emit("log_subscription_confirmed", body, sid)
            return payloads.ack_ok(body)

        return await self._answer(sid, run, data)

    async def on_update_log_filters(self, sid: str, data: Any = None) -> JsonObject:
        self._trace("update_log_filters", sid, data)

        async def run() -> JsonObject:
            body: JsonObject
            if self.logs is None:
                body = {"success": False, "error": "Log streaming is not enabled on this server."}
            else:
                try:
                    body = {"success": True, "filters": self.logs.update(sid, data).as_payload()}
                except InvalidPayload as exc:
                    body = {"success": False, "error": exc.message}
            await self._emit("log_filters_updated", body, sid)
            return body

        return await self._answer(sid, run, data)

    async def on_unknown(self, event: str, sid: str, data: Any = None, *_: Any) -> JsonObject:
        self._trace(event, sid, data)

        async def run() -> JsonObject:
            raise InvalidPayload(
                f"Unknown event '{event}'. Send events named 'message' with {{type: 1 or 2, payload}},"
                " or 'typing'; listen for 'messageBroadcast' to receive messages.",
                field="event",
            )

        return await self._answer(sid, run, data)

    # helpers ----------------------------------------------------------------------------

    async def _join(self, sid: str, body: Any) -> JsonObject:
        caller = self.messaging.presence.caller(sid)
        command = validation.join(body, socket_entity_id=caller.entity_id, limits=self.messaging.limits)
        return payloads.ack_ok(await self.messaging.join(sid, command, caller=caller))

    async def _send(self, sid: str, body: Any) -> JsonObject:
        started = time.perf_counter()
        caller = self.messaging.presence.caller(sid)
        command = validation.send(body, socket_entity_id=caller.entity_id, limits=self.messaging.limits)
        result = await self.messaging.send(command, sid=sid, caller=caller)
        ack = {**result.ack, "duplicate": result.duplicate}
        await self._emit(Event.MESSAGE_ACK, ack, sid)
        metrics.ACK_SECONDS.observe(time.perf_counter() - started)
        return payloads.ack_ok(ack)

    async def _answer(self, sid: str, run: Callable[[], Awaitable[JsonObject]], data: Any) -> JsonObject:
        """Any failure becomes messageError and the ack (the rate is counted before: gateway/guarded.py)."""
        try:
            with self.messaging.gate.hold():  # refused once the server is stopping; counted until done
                return await run()
        except MessagingError as exc:
            return await self._error(sid, exc, data)
        except Exception:
            log.exception("handler failed", extra={"sid": sid})
            return await self._error(
                sid, MessagingError("The server failed to handle this event; it has been logged."), data
            )

    async def _error(self, sid: str, exc: MessagingError, data: Any) -> JsonObject:
        metrics.ERRORS.labels(exc.code).inc()
        body = payloads.message_error(
            exc.message, code=exc.code, field=exc.field, channelId=_room_of(data), roomId=_room_of(data)
        )
        body_in = data.get("payload", data) if isinstance(data, dict) else None
        client_id = body_in.get("messageId") if isinstance(body_in, dict) else None
        if isinstance(client_id, str):
            body["clientMessageId"] = client_id
        if isinstance(exc, RateLimited):
            body["retryAfterMs"] = exc.retry_after_ms
        if len(exc.fields) > 1:
            body["fields"] = exc.fields
        await self._emit(Event.MESSAGE_ERROR, body, sid)
        return payloads.ack_error(body)

    async def _emit(self, event: str, data: JsonObject, sid: str) -> None:
        await self.messaging.fanout.emit(event, data, to=sid)

    @staticmethod
    def _trace(event: str, sid: str, data: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("event in", extra={"event": event, "sid": sid, "room": _room_of(data), "bytes": _size(data)})
