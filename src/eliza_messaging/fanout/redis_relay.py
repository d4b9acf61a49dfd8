"""The reply watchers' link between nodes: JSON objects over one Redis pub/sub channel.

Pub/sub rather than a stream because what it carries is only useful live (a REST caller waiting
for a reply right now); a node that was not listening has nobody waiting. One publisher task
sends in order, so the steps of one reply (thinking, chunks, reply, done) arrive in order, and
``send`` never makes the agent wait on Redis. Each object carries this node's id, so a node
skips its own (it delivered them locally already).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from ..tasks import stop
from ..types import JsonObject

log = logging.getLogger(__name__)

OUTBOX_LIMIT: Final = 10_000  # objects waiting for a Redis that does not answer; older ones are dropped
CONNECT_TIMEOUT_S: Final = 5.0
RETRY_MAX_S: Final = 10.0


async def stop_tasks(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel a Redis link's background tasks and wait until each has stopped; the list is emptied."""
    await stop(*tasks)
    tasks.clear()


def pubsub_channel(url: str, prefix: str, name: str) -> str:
    """``<prefix>:<db>:<name>``: Redis pub/sub ignores the database number, so the name carries it,
    and two deployments on one Redis (another prefix, or another database) never hear each other."""
    parts = urlsplit(url)
    in_path = "0" if parts.scheme == "unix" else parts.path.strip("/").split("/")[0] or "0"
    db = parse_qs(parts.query).get("db", [in_path])[0]
    return f"{prefix}:{db}:{name}"


class RedisRelay:
    """``NodeRelay`` on a Redis pub/sub channel."""

    def __init__(self, url: str, channel: str) -> None:
        self._url = url
        self.channel = channel
        self.node_id = uuid.uuid4().hex
        self._redis: Redis | None = None
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(OUTBOX_LIMIT)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, receive: Callable[[JsonObject], None]) -> None:
        self._redis = Redis.from_url(self._url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        try:
            pubsub = await self._subscribe()
        except (RedisError, OSError) as exc:
            await self._redis.aclose()
            self._redis = None
            raise ConnectionError(f"Could not connect to Redis (REDIS_URL): {exc}") from exc
        self._tasks = [
            asyncio.create_task(self._listen(pubsub, receive), name="redis relay listen"),
            asyncio.create_task(self._publish(), name="redis relay publish"),
        ]

    def send(self, data: JsonObject) -> None:
        body = orjson.dumps({"node": self.node_id, "data": data})
        if self._outbox.full():  # Redis has been away for a while: keep the newest
            self._outbox.get_nowait()
            log.warning("reply relay outbox full; dropped the oldest", extra={"channel": self.channel})
        self._outbox.put_nowait(body)

    async def close(self) -> None:
        await stop_tasks(self._tasks)
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def _subscribe(self) -> PubSub:
        """Subscribed once Redis has confirmed it, so nothing sent after ``start`` returns is missed."""
        assert self._redis is not None
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                while (await pubsub.get_message(timeout=CONNECT_TIMEOUT_S)) is None:
                    pass
        except BaseException:
            await pubsub.aclose()
            raise
        return pubsub

    async def _listen(self, pubsub: PubSub, receive: Callable[[JsonObject], None]) -> None:
        retry_s = 0.5
        while True:
            try:
                async for message in pubsub.listen():
                    retry_s = 0.5
                    if message.get("type") == "message":
                        self._deliver(message["data"], receive)
            except (RedisError, OSError) as exc:
                log.warning("reply relay lost Redis; resubscribing", extra={"error": str(exc), "retry_s": retry_s})
            await pubsub.aclose()
            while True:
                await asyncio.sleep(retry_s)
                retry_s = min(retry_s * 2, RETRY_MAX_S)
                try:
                    pubsub = await self._subscribe()
                    break
                except (RedisError, OSError, TimeoutError) as exc:
                    log.warning("reply relay cannot reach Redis", extra={"error": str(exc), "retry_s": retry_s})

    def _deliver(self, raw: Any, receive: Callable[[JsonObject], None]) -> None:
        try:
            envelope = orjson.loads(raw)
            if envelope.get("node") == self.node_id:
                return
            receive(envelope["data"])
        except Exception:  # one bad object must not stop the relay
            log.exception("reply relay could not deliver an object", extra={"channel": self.channel})

    async def _publish(self) -> None:
        assert self._redis is not None
        while True:
            body = await self._outbox.get()
            for attempt in range(3):
                try:
                    await self._redis.publish(self.channel, body)
                    break
                except (RedisError, OSError) as exc:
                    log.warning("reply relay could not publish", extra={"error": str(exc), "attempt": attempt + 1})
                    await asyncio.sleep(0.2 * (attempt + 1))
