"""Store fixtures: one suite of behaviour tests runs against SQLite and PostgreSQL alike.

PostgreSQL comes from ``POSTGRES_TEST_URL`` (default: trust auth on 127.0.0.1:5432, database
``test``). Each test gets a schema of its own, created empty and dropped afterwards, so tests
never see each other's rows and need no database to be created. When PostgreSQL does not
answer, its cases skip, except in CI (``CI=true``), where a missing database must not pass
for a green run: they fail.

The ``pgvector`` backend is the same PostgreSQL store on a server that has pgvector (the
``pgserver`` wheel's PostgreSQL 16: tests/conftest.py's ``pgvector_url``),
for the tests of the ``vector`` column, which the machine's PostgreSQL cannot run.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import asyncpg
import pytest

from eliza_messaging.store.base import Store
from eliza_messaging.store.postgres import PostgresStore
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import service_missing

POSTGRES_TEST_URL = os.environ.get("POSTGRES_TEST_URL", "postgresql://postgres@127.0.0.1:5432/test")
CONNECT_TIMEOUT_S = 3.0

_checked: dict[str, str | None] = {}  # the availability answer, asked once per run


async def postgres_unavailable() -> str | None:
    """Why PostgreSQL at ``POSTGRES_TEST_URL`` cannot be used, or None when it can."""
    if POSTGRES_TEST_URL not in _checked:
        try:
            conn = await asyncpg.connect(POSTGRES_TEST_URL, timeout=CONNECT_TIMEOUT_S)
            await conn.close()
            _checked[POSTGRES_TEST_URL] = None
        except Exception as exc:
            _checked[POSTGRES_TEST_URL] = (
                f"PostgreSQL does not answer at {POSTGRES_TEST_URL} ({type(exc).__name__}: {exc});"
                " start it or set POSTGRES_TEST_URL"
            )
    return _checked[POSTGRES_TEST_URL]


def without_postgres(reason: str) -> NoReturn:
    service_missing("PostgreSQL", reason)


@asynccontextmanager
async def postgres_schema(url: str | None = None) -> AsyncIterator[str]:
    """A fresh empty schema in the test database (its name), dropped with everything in it afterwards.

    ``url`` is another server's test database (the pgvector one); by default ``POSTGRES_TEST_URL``."""
    if url is None:
        reason = await postgres_unavailable()
        if reason is not None:
            without_postgres(reason)
    name = f"test_{uuid.uuid4().hex[:16]}"
    await _admin(f'CREATE SCHEMA "{name}"', url)
    try:
        yield name
    finally:
        await _admin(f'DROP SCHEMA "{name}" CASCADE', url)


def postgres_url(schema: str, base: str = POSTGRES_TEST_URL) -> str:
    """``base`` with every connection's search_path set to ``schema`` (as POSTGRES_URL takes it)."""
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options={quote(f'-c search_path={schema}')}"


async def _admin(sql: str, url: str | None = None) -> None:
    conn = await asyncpg.connect(url or POSTGRES_TEST_URL, timeout=CONNECT_TIMEOUT_S)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass(frozen=True)
class Backend:
    """One database for one test: ``make`` builds a new (unopened) store on it, as a restart would."""

    name: str
    make: Callable[[], Store]
    migrations: Callable[[], Awaitable[list[int]]]


def sqlite_backend(path: Path) -> Backend:
    async def migrations() -> list[int]:
        with sqlite3.connect(path) as db:
            return [row[0] for row in db.execute("SELECT version FROM schema_migrations ORDER BY version")]

    return Backend("sqlite", lambda: SQLiteStore(path), migrations)


def postgres_backend(schema: str, base: str = POSTGRES_TEST_URL, name: str = "postgres") -> Backend:
    async def migrations() -> list[int]:
        conn = await asyncpg.connect(postgres_url(schema, base), timeout=CONNECT_TIMEOUT_S)
        try:
            return [row[0] for row in await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")]
        finally:
            await conn.close()

    return Backend(name, lambda: PostgresStore(base, server_settings={"search_path": schema}), migrations)


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Each backend in turn; a test may add ``pgvector`` with
    ``@pytest.mark.parametrize("backend", WITH_PGVECTOR, indirect=True)``."""
    if request.param == "sqlite":
        yield sqlite_backend(tmp_path / "m.sqlite3")
        return
    if request.param == "pgvector":
        url = request.getfixturevalue("pgvector_url")
        async with postgres_schema(url) as schema:
            yield postgres_backend(schema, url, "pgvector")
        return
    async with postgres_schema() as schema:
        yield postgres_backend(schema)


WITH_PGVECTOR = ["sqlite", "postgres", "pgvector"]


@pytest.fixture
async def pg_backend() -> AsyncIterator[Backend]:
    """PostgreSQL only, for what only a shared server database has to survive (several nodes)."""
    async with postgres_schema() as schema:
        yield postgres_backend(schema)


@pytest.fixture
async def any_store(backend: Backend) -> AsyncIterator[Store]:
    """A fresh, open store of each backend."""
    store = backend.make()
    await store.open()
    yield store
    await store.close()
