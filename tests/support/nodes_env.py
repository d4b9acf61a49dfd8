"""Settings for several nodes sharing one store and one Redis, as a deployment of several nodes runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.store.conftest import postgres_schema, postgres_url
from tests.support.redis_env import REDIS_TEST_URL, redis_prefix


@asynccontextmanager
async def shared_nodes_env() -> AsyncIterator[dict[str, str]]:
    """POSTGRES_URL on a fresh schema, REDIS_URL with a fresh key prefix; both removed afterwards (so stop
    the nodes inside the block). Skips without PostgreSQL or Redis (fails under CI=true)."""
    async with postgres_schema() as schema, redis_prefix() as prefix:
        yield {"POSTGRES_URL": postgres_url(schema), "REDIS_URL": REDIS_TEST_URL, "ELIZA_REDIS_PREFIX": prefix}
