"""Redis for tests: reachable or skipped (failed under CI=true), and a key prefix of each test's own.

Redis comes from ``REDIS_TEST_URL`` (default ``redis://127.0.0.1:6379/0``). Tests do not take a
database number of their own, since another run may use the same one at the same time: each
gets a fresh prefix (``ELIZA_REDIS_PREFIX``) for its keys and pub/sub channels, and everything
under it is deleted afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NoReturn

from redis.asyncio import Redis

from tests.conftest import service_missing

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
CONNECT_TIMEOUT_S = 3.0

_checked: dict[str, str | None] = {}  # the availability answer, asked once per run


async def redis_unavailable() -> str | None:
    """Why Redis at ``REDIS_TEST_URL`` cannot be used, or None when it can."""
    if REDIS_TEST_URL not in _checked:
        client = Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=CONNECT_TIMEOUT_S)
        try:
            await client.ping()
            _checked[REDIS_TEST_URL] = None
        except Exception as exc:
            _checked[REDIS_TEST_URL] = (
                f"Redis does not answer at {REDIS_TEST_URL} ({type(exc).__name__}: {exc});"
                " start it or set REDIS_TEST_URL"
            )
        finally:
            await client.aclose()
    return _checked[REDIS_TEST_URL]


def without_redis(reason: str) -> NoReturn:
    service_missing("Redis", reason)


@asynccontextmanager
async def redis_prefix() -> AsyncIterator[str]:
    """A fresh prefix on the test Redis; every key under it is deleted afterwards."""
    reason = await redis_unavailable()
    if reason is not None:
        without_redis(reason)
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = Redis.from_url(REDIS_TEST_URL)
        try:
            keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()
