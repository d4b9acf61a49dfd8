"""Fanout through python-socketio's client manager.

The manager decides the reach: python-socketio's in-process manager for one node (the
default), or its Redis pub/sub manager to reach sockets on every node. Each emit is logged at
debug level with its room and size, since watching events is how users debug.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import socketio

log = logging.getLogger("eliza_messaging.events")


def create_client_manager(redis_url: str | None) -> Any:
    """In-process unless a Redis URL is given (then every node sees every emit)."""
    if redis_url:
        return socketio.AsyncRedisManager(redis_url, channel="eliza-messaging")
    return socketio.AsyncManager()


class SocketIOFanout:
    def __init__(self, server: socketio.AsyncServer) -> None:
        self._server = server

    async def emit(
        self,
        event: str,
        data: Any,
        *,
        room: str | None = None,
        to: str | None = None,
        skip_sid: str | None = None,
    ) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "event out",
                extra={"event": event, "room": room, "sid": to, "skip_sid": skip_sid, "bytes": len(orjson.dumps(data))},
            )
        await self._server.emit(event, data, room=to or room, skip_sid=skip_sid)

    async def enter_room(self, sid: str, room: str) -> None:
        await self._server.enter_room(sid, room)

    async def leave_room(self, sid: str, room: str) -> None:
        await self._server.leave_room(sid, room)
