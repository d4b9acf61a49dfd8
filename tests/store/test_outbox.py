"""The outbox columns of the ``Store`` contract, on SQLite and PostgreSQL alike.

A stored message is unpublished until marked; its live send holds it for a lease after its
``created_at``; a claim holds it for a lease; a release frees it at once; an upgraded database
counts its old rows as published; two nodes never claim the same row.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg

from eliza_messaging.store import postgres_schema as postgres_schema_module
from eliza_messaging.store import sqlite_schema
from eliza_messaging.store.base import Store
from eliza_messaging.store.postgres import PostgresStore
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id
from tests.store.conftest import POSTGRES_TEST_URL, Backend, postgres_schema, postgres_url
from tests.store.test_conformance import channel, message, with_server

LEASE = 30_000


async def test_a_new_message_is_unpublished_until_marked(any_store: Store) -> None:
    store = await with_server(any_store)
    room = await channel(store)
    first = await store.append_message(message(room, "hi", at=1_000, client_id="c1"))
    assert first.created
    retry = await store.append_message(message(room, "hi", at=1_001, client_id="c1"))
    assert (retry.created, retry.published) == (False, False)
    await store.mark_published([first.message.id], 2_000)
    again = await store.append_message(message(room, "hi", at=1_002, client_id="c1"))
    assert (again.created, again.published) == (False, True)
    assert await store.claim_unpublished(now=10**12, lease_ms=LEASE, limit=10) == []


async def test_claims_hold_rows_for_the_lease_and_come_oldest_first(any_store: Store) -> None:
    store = await with_server(any_store)
    room = await channel(store)
    ids = [(await store.append_message(message(room, f"m{i}", at=1_000))).message.id for i in range(3)]
    # the live send holds its rows for the lease after created_at
    assert await store.claim_unpublished(now=1_000 + LEASE - 1, lease_ms=LEASE, limit=10) == []
    now = 1_000 + LEASE
    claimed = await store.claim_unpublished(now=now, lease_ms=LEASE, limit=2)
    assert [m.id for m in claimed] == ids[:2]
    assert [m.content for m in claimed] == ["m0", "m1"]
    rest = await store.claim_unpublished(now=now, lease_ms=LEASE, limit=10)
    assert [m.id for m in rest] == ids[2:]  # the first two are held
    assert await store.claim_unpublished(now=now + LEASE - 1, lease_ms=LEASE, limit=10) == []
    await store.release_claim(ids[1])
    assert [m.id for m in await store.claim_unpublished(now=now + 1, lease_ms=LEASE, limit=10)] == [ids[1]]
    await store.mark_published(ids, now)
    assert await store.claim_unpublished(now=now + 10 * LEASE, lease_ms=LEASE, limit=10) == []


async def test_claiming_one_message_takes_only_that_one(any_store: Store) -> None:
    store = await with_server(any_store)
    room = await channel(store)
    ids = [(await store.append_message(message(room, f"m{i}", at=1_000))).message.id for i in range(2)]
    assert await store.claim_unpublished(now=2_000, lease_ms=LEASE, limit=1, message_id=ids[1]) == []  # live
    await store.release_claim(ids[1])  # its publish failed
    claimed = await store.claim_unpublished(now=2_000, lease_ms=LEASE, limit=1, message_id=ids[1])
    assert [m.id for m in claimed] == [ids[1]]
    assert await store.claim_unpublished(now=2_001, lease_ms=LEASE, limit=1, message_id=ids[1]) == []  # held


async def test_reopened_sqlite_frees_what_the_dead_process_held(tmp_path: Path) -> None:
    """One process owns the SQLite file: a restart may publish at once what the last one had claimed."""
    path = tmp_path / "m.sqlite3"
    store = SQLiteStore(path)
    await store.open()
    await with_server(store)
    room = await channel(store)
    stranded = await store.append_message(message(room, "lost in a crash", at=10**12))
    await store.close()
    store = SQLiteStore(path)
    await store.open()
    try:
        claimed = await store.claim_unpublished(now=10**12, lease_ms=LEASE, limit=10)
        assert [m.id for m in claimed] == [stranded.message.id]
    finally:
        await store.close()


async def test_an_upgraded_sqlite_database_counts_its_old_messages_published(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)")
        for version, script in sqlite_schema.MIGRATIONS[:2]:
            db.executescript(script)
            db.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
        _old_rows(db.execute)
    store = SQLiteStore(path)
    await store.open()
    try:
        assert await store.claim_unpublished(now=10**12, lease_ms=LEASE, limit=10) == []
        assert len(await store.list_messages("c-old", limit=10)) == 1
        fresh = await store.append_message(message("c-old", "new", at=5))
        assert [m.id for m in await store.claim_unpublished(now=10**12, lease_ms=LEASE, limit=10)] == [fresh.message.id]
    finally:
        await store.close()


async def test_an_upgraded_postgres_database_counts_its_old_messages_published() -> None:
    async with postgres_schema() as schema:
        conn = await asyncpg.connect(postgres_url(schema))
        try:  # the schema as the previous release left it: migrations 1 and 2, with a message
            await conn.execute(
                "CREATE TABLE schema_migrations"
                " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            for version, script in postgres_schema_module.MIGRATIONS[:2]:
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            for sql, args in _old_row_statements():
                numbered = sql
                for n in range(1, sql.count("?") + 1):
                    numbered = numbered.replace("?", f"${n}", 1)
                await conn.execute(numbered, *args)
        finally:
            await conn.close()
        store = PostgresStore(POSTGRES_TEST_URL, server_settings={"search_path": schema})
        await store.open()
        try:
            assert await store.claim_unpublished(now=10**12, lease_ms=LEASE, limit=10) == []
            fresh = await store.append_message(message("c-old", "new", at=5))
            assert [m.id for m in await store.claim_unpublished(now=10**12, lease_ms=LEASE, limit=10)] == [
                fresh.message.id
            ]
        finally:
            await store.close()


async def test_nodes_sweeping_together_never_claim_the_same_row(pg_backend: Backend) -> None:
    stores = [pg_backend.make() for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        await with_server(stores[0])
        room = await channel(stores[0])
        ids = {(await stores[0].append_message(message(room, f"m{i}", at=1))).message.id for i in range(40)}
        claims = await asyncio.gather(
            *(s.claim_unpublished(now=10**12, lease_ms=LEASE, limit=7) for s in stores for _ in range(3))
        )
        taken = [m.id for claim in claims for m in claim]
        assert len(taken) == len(set(taken))  # nobody got a row twice
        assert set(taken) <= ids
        rest = await stores[1].claim_unpublished(now=10**12, lease_ms=LEASE, limit=100)
        assert {m.id for m in rest} | set(taken) == ids
    finally:
        await asyncio.gather(*(s.close() for s in stores))


def _old_row_statements() -> list[tuple[str, tuple[object, ...]]]:
    return [
        (
            "INSERT INTO message_servers (id, name, source_type, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
            ("00000000-0000-0000-0000-000000000000", "Default", "test", 1, 1),
        ),
        (
            "INSERT INTO channels (id, message_server_id, name, type, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            ("c-old", "00000000-0000-0000-0000-000000000000", "old", "GROUP", 1, 1),
        ),
        (
            "INSERT INTO central_messages (id, channel_id, author_id, content, source_type, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (new_id(), "c-old", "a", "delivered long ago", "test", 2, 2),
        ),
    ]


def _old_rows(execute: object) -> None:
    assert callable(execute)
    for sql, args in _old_row_statements():
        execute(sql, args)
