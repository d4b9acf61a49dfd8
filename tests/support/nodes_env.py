"""Settings for several nodes sharing one store and one Redis, as a deployment of several nodes runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from eliza_messaging.queue.partitions import PARTITIONS, preferred
from tests.store.conftest import postgres_schema, postgres_url
from tests.support.redis_env import REDIS_TEST_URL, redis_prefix


@asynccontextmanager
async def shared_nodes_env() -> AsyncIterator[dict[str, str]]:
    """POSTGRES_URL on a fresh schema, REDIS_URL with a fresh key prefix; both removed afterwards (so stop
    the nodes inside the block). Skips without PostgreSQL or Redis (fails under CI=true)."""
    async with postgres_schema() as schema, redis_prefix() as prefix:
        yield {"POSTGRES_URL": postgres_url(schema), "REDIS_URL": REDIS_TEST_URL, "ELIZA_REDIS_PREFIX": prefix}


async def lanes_settled(env: dict[str, str], agent: str, members: int) -> None:
    """Wait until the agent's group has ``members`` nodes and each partition is held by the node it
    should be (nodes that start one after another hand partitions over for a few seconds)."""
    stream, group = f"{env['ELIZA_REDIS_PREFIX']}:messages", f"agent:{agent}"
    redis = Redis.from_url(REDIS_TEST_URL)
    try:
        async with asyncio.timeout(20):
            while True:
                names = [m.decode() for m in await redis.zrange(f"{stream}:members:{group}", 0, -1)]
                holders = await redis.mget([f"{stream}:{p}:lease:{group}" for p in range(PARTITIONS)])
                wanted = [preferred(group, p, names) for p in range(PARTITIONS)]
                if len(names) == members and [h.decode() if h else None for h in holders] == wanted:
                    return
                await asyncio.sleep(0.2)
    finally:
        await redis.aclose()
