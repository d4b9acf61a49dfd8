"""Fixtures of the e2e tests that run a server on each store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from eliza_messaging.store.base import Store
from eliza_messaging.store.postgres import PostgresStore
from eliza_messaging.store.sqlite import SQLiteStore
from tests.store.conftest import POSTGRES_TEST_URL, postgres_schema, postgres_url
from tests.support.server import ServerProcess


@dataclass
class Database:
    """Where a test's server keeps its messages: its settings, and a store on the same database."""

    env: dict[str, str]
    data_dir: Path
    store: Callable[[], Store]

    def start(self, factory: Callable[..., ServerProcess], **env: str) -> ServerProcess:
        return factory({**self.env, **env}, data_dir=self.data_dir)


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        data_dir.mkdir()
        yield Database({}, data_dir, lambda: SQLiteStore(data_dir / "messaging.sqlite3"))
        return
    async with postgres_schema() as schema:
        yield Database(
            {"POSTGRES_URL": postgres_url(schema)},
            data_dir,
            lambda: PostgresStore(POSTGRES_TEST_URL, server_settings={"search_path": schema}),
        )
