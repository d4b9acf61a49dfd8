"""Fanout through python-socketio's client manager.

The manager decides the reach: python-socketio's in-process manager reaches this node's
sockets; its Redis pub/sub manager (for several nodes, together with a shared store and queue)
would reach every node's without changing this class. Each emit is logged at
debug level with its room and size, since watching events is how users debug.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import socketio

log = logging.getLogger("eliza_messaging.events")


def create_client_manager() -> Any:
    """In-process: one node. (Several nodes will swap in python-socketio's Redis manager here.)"""
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
