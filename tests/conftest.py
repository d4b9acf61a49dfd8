"""Shared fixtures: a real server process and real JavaScript clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.node import NodeClient, ensure_node_modules
from tests.support.pgvector_server import PgvectorServerError, pgvector_server
from tests.support.server import ServerProcess

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def service_missing(service: str, reason: str) -> NoReturn:
    """Skip locally; fail in CI, where every test of a real service or tool must run.

    ``service`` names what is missing (PostgreSQL, Redis, Chromium, Node.js); ``reason`` says how to get it.
    """
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: {service} tests must run, not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def _node_modules() -> None:
    ensure_node_modules()


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """The test database of a PostgreSQL that has pgvector (the machine's has not), started once per run
    (and per xdist worker); pytest keeps a failed start's skip (or CI failure) for the rest of the run."""
    try:
        with pgvector_server() as started:
            yield started.url
    except PgvectorServerError as exc:
        service_missing("PostgreSQL with pgvector", f"the pgvector PostgreSQL (pgserver) did not start: {exc}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server shared by the tests that need no special settings (each uses its own rooms)."""
    proc = ServerProcess(tmp_path_factory.mktemp("shared-server") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with their own settings and data dir; all are stopped after the test."""
    started: list[ServerProcess] = []

    def make(env: dict[str, str] | None = None, data_dir: Path | None = None) -> ServerProcess:
        proc = ServerProcess(data_dir or tmp_path / f"data-{len(started)}", env=env).start()
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.stop()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., object]]:
    """Start real socket.io-client 4.x clients; all are closed after the test."""
    started: list[NodeClient] = []

    async def make(url: str, **options: object) -> NodeClient:
        client = await NodeClient.start(url, **options)
        started.append(client)
        return client

    yield make
    for client in started:
        await client.close()


def new_id() -> str:
    return str(uuid.uuid4())
