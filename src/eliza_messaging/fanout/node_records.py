"""``NodeRecords`` in Redis: each node's live key and what it holds, so another can clean up after a crash.

Keys (``<prefix>`` is the deployment's): ``<prefix>:nodes`` (set of nodes that may have records),
``<prefix>:node:<id>`` (live while it exists; refreshed every ``refresh_s`` with a ``ttl_s`` expiry),
``<prefix>:node:<id>:<kind>`` (hashes of JSON values) and ``<prefix>:node:<id>:reaper`` (the claim,
``SET NX``, so exactly one node cleans up after a dead one). One writer task sends the records in
the order they were queued; the queue is bounded and keeps the newest when Redis is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Final

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ..types import JsonObject
from .redis_relay import stop_tasks

log = logging.getLogger(__name__)

OUTBOX_LIMIT: Final = 10_000
CONNECT_TIMEOUT_S: Final = 5.0
CLAIM_S: Final = 60  # how long a claim on a dead node lasts: the cleaner dies too, another takes over
TTL_S: Final = 6.0  # a node's live key lasts this long unless refreshed
REFRESH_S: Final = 2.0  # and is refreshed this often


class RedisNodeRecords:
    def __init__(self, url: str, prefix: str, *, ttl_s: float = TTL_S, refresh_s: float = REFRESH_S) -> None:
        if not 0 < refresh_s < ttl_s:
            raise ValueError(f"refresh_s ({refresh_s}) must be above 0 and below ttl_s ({ttl_s}).")
        self._url = url
        self._prefix = prefix
        self._ttl_ms = int(ttl_s * 1000)
        self._refresh_s = refresh_s
        self.node_id = uuid.uuid4().hex
        self._redis: Redis | None = None
        self._outbox: asyncio.Queue[tuple[str, str, bytes | None]] = asyncio.Queue(OUTBOX_LIMIT)
        self._tasks: list[asyncio.Task[None]] = []

    def _key(self, node_id: str, kind: str | None = None) -> str:
        return f"{self._prefix}:node:{node_id}" + (f":{kind}" if kind else "")

    async def start(self, forgotten: Callable[[], None]) -> None:
        self._redis = Redis.from_url(self._url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        try:
            await self._beat()
        except (RedisError, OSError) as exc:
            await self._redis.aclose()
            self._redis = None
            raise ConnectionError(f"Could not connect to Redis (REDIS_URL): {exc}") from exc
        self._tasks = [
            asyncio.create_task(self._heartbeat(forgotten), name="node records heartbeat"),
            asyncio.create_task(self._write(), name="node records write"),
        ]

    def record(self, kind: str, key: str, value: JsonObject | None) -> None:
        if self._outbox.full():
            self._outbox.get_nowait()
            log.warning("node records outbox full; dropped the oldest")
        self._outbox.put_nowait((kind, key, None if value is None else orjson.dumps(value)))

    async def claim_dead(self) -> list[str]:
        assert self._redis is not None
        claimed = []
        for raw in await self._redis.smembers(f"{self._prefix}:nodes"):
            node_id = _text(raw)
            if node_id == self.node_id or await self._redis.exists(self._key(node_id)):
                continue
            if await self._redis.set(self._key(node_id, "reaper"), self.node_id, nx=True, ex=CLAIM_S):
                claimed.append(node_id)
        return claimed

    async def read(self, node_id: str, kind: str) -> dict[str, JsonObject]:
        assert self._redis is not None
        found = await self._redis.hgetall(self._key(node_id, kind))
        return {_text(k): orjson.loads(v) for k, v in found.items()}

    async def take(self, node_id: str, kind: str, keys: list[str]) -> list[str]:
        assert self._redis is not None
        if not keys:
            return []
        name = self._key(node_id, kind)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hdel(name, key)
            removed = await pipe.execute()
        return [key for key, gone in zip(keys, removed, strict=True) if gone]

    async def forget(self, node_id: str) -> None:
        assert self._redis is not None
        keys = [self._key(node_id, kind) for kind in ("presence", "replies", "reaper")]
        await self._redis.delete(*keys)
        await self._redis.srem(f"{self._prefix}:nodes", node_id)

    async def close(self) -> None:
        await stop_tasks(self._tasks)
        if self._redis is not None:
            with contextlib.suppress(RedisError, OSError):
                await self.forget(self.node_id)
                await self._redis.delete(self._key(self.node_id))
            await self._redis.aclose()
            self._redis = None

    async def _beat(self) -> bool:
        """Mark this node live; True when it was not listed (its records were removed: a reaper's last step)."""
        assert self._redis is not None
        await self._redis.set(self._key(self.node_id), b"1", px=self._ttl_ms)
        return bool(await self._redis.sadd(f"{self._prefix}:nodes", self.node_id))

    async def _heartbeat(self, forgotten: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                if await self._beat():  # stalled longer than the TTL (or Redis was away) and reaped
                    log.warning("this node was taken for dead by another; recording its state again")
                    forgotten()
            except (RedisError, OSError) as exc:
                log.warning("node heartbeat could not reach Redis", extra={"error": str(exc)})

    async def _write(self) -> None:
        assert self._redis is not None
        while True:
            kind, key, value = await self._outbox.get()
            name = self._key(self.node_id, kind)
            for attempt in range(3):
                try:
                    if value is None:
                        await self._redis.hdel(name, key)
                    else:
                        await self._redis.hset(name, key, value)
                    break
                except (RedisError, OSError) as exc:
                    log.warning("node record not written", extra={"error": str(exc), "attempt": attempt + 1})
                    await asyncio.sleep(0.2 * (attempt + 1))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
