"""A tiny Socket.IO server that gets the seeds' checklist wrong on purpose, one fault at a time.

It speaks the seed dialect the way the seeds' own server sketch does (join a room, broadcast,
ack) unless a fault says otherwise, and runs on uvicorn in a thread on a free loopback port.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import orjson
import socketio
import uvicorn

from tests.support.server import free_port

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Faults:
    wrong_event: bool = False  # broadcasts as 'message' instead of 'messageBroadcast'
    cors_origins: str | list[str] = "*"  # [] disables CORS headers; a list allows only those origins
    no_established: bool = False  # never emits connection_established
    no_ack: bool = False  # neither the ack callback nor messageAck
    wrong_room: bool = False  # broadcasts with another roomId/channelId
    no_join_confirm: bool = False  # joins silently
    polling_only: bool = False  # refuses WebSocket
    api_key: str | None = None  # when set, refuses sockets without it (auth.apiKey or x-api-key)


async def _rest(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers /api/server/ping like ElizaOS; everything else is 404."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        await send({"type": "lifespan.shutdown.complete"})
        return
    found = scope.get("path") == "/api/server/ping"
    body = orjson.dumps({"pong": True} if found else {"success": False, "error": "not found"})
    await send(
        {
            "type": "http.response.start",
            "status": 200 if found else 404,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def build_app(faults: Faults) -> Any:
    sio = socketio.AsyncServer(
        async_mode="asgi",
        cors_allowed_origins=faults.cors_origins,
        transports=["polling"] if faults.polling_only else ["polling", "websocket"],
    )

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        offered = (auth or {}).get("apiKey") or environ.get("HTTP_X_API_KEY")
        if faults.api_key and offered != faults.api_key:
            raise socketio.exceptions.ConnectionRefusedError("API key required")
        if not faults.no_established:
            await sio.emit("connection_established", {"message": "Connected", "socketId": sid}, to=sid)

    @sio.on("message")
    async def message(sid: str, data: Any) -> Any:
        payload = data.get("payload", {}) if isinstance(data, dict) else {}
        room = payload.get("roomId") or payload.get("channelId")
        if data.get("type") == 1:
            await sio.enter_room(sid, room)
            if faults.no_join_confirm:
                return None
            await sio.emit("channel_joined", {"roomId": room, "channelId": room}, to=sid)
            return {"success": True, "roomId": room, "channelId": room}
        message_id = str(uuid.uuid4())
        said = room if not faults.wrong_room else str(uuid.uuid4())
        broadcast = {
            "id": message_id,
            "senderId": payload.get("senderId"),
            "senderName": payload.get("senderName"),
            "text": payload.get("message"),
            "roomId": said,
            "channelId": said,
            "createdAt": int(time.time() * 1000),
            "source": payload.get("source"),
        }
        await sio.emit("message" if faults.wrong_event else "messageBroadcast", broadcast, room=room)
        if faults.no_ack:
            return None
        ack = {"clientMessageId": payload.get("messageId"), "messageId": message_id, "roomId": room}
        await sio.emit("messageAck", ack, to=sid)
        return {"success": True, **ack}

    return socketio.ASGIApp(sio, other_asgi_app=_rest, socketio_path="socket.io")


class FaultyServer:
    """``with FaultyServer(Faults(no_ack=True)) as server: ... server.url``"""

    def __init__(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        self.port = free_port()
        config = uvicorn.Config(
            build_app(self.faults), host="127.0.0.1", port=self.port, log_level="error", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultyServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the faulty server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._server.force_exit = True  # do not wait for long-polls the probes abandoned
        self._thread.join(10)
