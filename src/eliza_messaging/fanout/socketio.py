"""Fanout through python-socketio's client manager.

The manager decides the reach: python-socketio's in-process manager reaches this node's
sockets; its Redis pub/sub manager (``REDIS_URL``, for several nodes, together with a shared
store and queue) reaches every node's, rooms, single sockets and ``skip_sid`` alike, without
changing this class. Each emit is logged at debug level with its room and size, since watching
events is how users debug. With connection-state recovery on, every room emit but the volatile
events (typing) is logged with an offset (``broadcast.py``); emits to one socket are not, as in
socket.io.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Final

import orjson
import socketio

from .broadcast import BroadcastManager, BroadcastRedisManager
from .recovery import DEFAULT_LOG_MAX, PacketLog

log = logging.getLogger("eliza_messaging.events")

SUBSCRIBE_TIMEOUT_S: Final = 5.0


def create_client_manager(
    redis_url: str | None = None,
    *,
    prefix: str = "eliza",
    recovery_window_s: float = 0.0,
    recovery_log_max: int = DEFAULT_LOG_MAX,
) -> Any:
    """The one place that decides the reach: this node only, or every node through Redis pub/sub.

    ``recovery_window_s`` above 0 keeps the packet log of connection-state recovery for that long
    (at most ``recovery_log_max`` packets): in memory, or in the Redis stream ``log_stream(prefix)``.
    """
    if not redis_url:
        manager = BroadcastManager()
        if recovery_window_s > 0:
            manager.packet_log = PacketLog(recovery_window_s, recovery_log_max)
        return manager
    from .redis_relay import pubsub_channel  # redis is only loaded when it is used

    redis_manager = BroadcastRedisManager(redis_url, channel=pubsub_channel(redis_url, prefix, "socketio"))
    if recovery_window_s > 0:
        redis_manager.log_stream = log_stream(prefix)
        redis_manager.log_window_ms = int(recovery_window_s * 1000)
        redis_manager.log_max = recovery_log_max
    return redis_manager


def log_stream(prefix: str) -> str:
    """The Redis stream of recent room broadcasts (connection-state recovery)."""
    return f"{prefix}:socketio:log"


async def start_client_manager(server: socketio.AsyncServer) -> None:
    """Listen to the other nodes before serving: python-socketio would start on the first connection,
    and a node that never gets one would not even notice that Redis is unreachable."""
    manager = server.manager
    if not isinstance(manager, socketio.AsyncRedisManager) or server.manager_initialized:
        return
    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    probe = Redis.from_url(manager.redis_url, socket_connect_timeout=SUBSCRIBE_TIMEOUT_S)
    try:  # fail the start at once with the reason; python-socketio would retry quietly forever
        await probe.ping()
    except (RedisError, OSError) as exc:
        raise ConnectionError(f"Could not connect to Redis (REDIS_URL) for Socket.IO fanout: {exc}") from exc
    finally:
        await probe.aclose()
    server.manager_initialized = True
    manager.initialize()
    try:
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT_S):
            # python-socketio subscribes in its own task and offers nothing to wait on but this state
            while manager.pubsub is None or not manager.pubsub.subscribed:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            await manager.redis.ping()  # the SUBSCRIBE has gone out; one round trip lets Redis take it
    except TimeoutError:
        await close_client_manager(server)
        raise ConnectionError(
            f"Could not connect to Redis (REDIS_URL) for Socket.IO fanout on channel {manager.channel!r}"
        ) from None


async def close_client_manager(server: socketio.AsyncServer) -> None:
    """Stop listening to the other nodes and close the Redis connections (nothing to do in-process)."""
    manager = server.manager
    if not isinstance(manager, socketio.AsyncRedisManager):
        return
    thread = getattr(manager, "thread", None)
    if thread is not None:
        thread.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await thread
    if manager.pubsub is not None:
        await manager.pubsub.aclose()
    if manager.redis is not None:
        await manager.redis.aclose()
    manager.connected = False


class SocketIOFanout:
    def __init__(self, server: socketio.AsyncServer, *, volatile: frozenset[str] = frozenset()) -> None:
        """``volatile``: events never logged for recovery (a missed one is worth nothing later)."""
        self._server = server
        self._volatile = volatile

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
        logged = to is None and room is not None and event not in self._volatile
        await self._server.manager.emit(event, data, "/", room=to or room, skip_sid=skip_sid, logged=logged)

    async def enter_room(self, sid: str, room: str) -> None:
        await self._server.enter_room(sid, room)

    async def leave_room(self, sid: str, room: str) -> None:
        await self._server.leave_room(sid, room)
