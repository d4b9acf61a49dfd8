"""Channel offsets (issue 12): every stored message gets ``seq``, 1, 2, 3, ... per channel, in the
store's transaction, on SQLite and PostgreSQL alike, with no gap and no repeat even when several
PostgreSQL stores (several nodes) append to one channel at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from eliza_messaging.store import postgres_schema, sqlite_schema
from eliza_messaging.store.base import Store
from eliza_messaging.store.postgres import PostgresStore
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id
from tests.store.conftest import Backend, postgres_url
from tests.store.conftest import postgres_schema as fresh_schema
from tests.store.test_conformance import REFUSED, SERVER, channel, message, with_server


async def seqs(store: Store, channel_id: str) -> list[int]:
    return sorted(m.seq for m in await store.list_messages(channel_id, limit=-1))


async def test_each_channel_numbers_its_messages_from_one(any_store: Store) -> None:
    await with_server(any_store)
    first, second = await channel(any_store), await channel(any_store)
    got = [(await any_store.append_message(message(c, f"{c}-{i}"))).message for i in range(3) for c in (first, second)]
    assert [m.seq for m in got if m.channel_id == first] == [1, 2, 3]
    assert [m.seq for m in got if m.channel_id == second] == [1, 2, 3]
    assert (await any_store.get_message(got[-1].id)) == got[-1]  # the offset is stored, not only returned


async def test_a_retry_returns_the_original_offset_and_uses_none(any_store: Store) -> None:
    await with_server(any_store)
    cid, client_id = await channel(any_store), new_id()
    first = await any_store.append_message(message(cid, "x", client_id=client_id))
    retry = await any_store.append_message(message(cid, "x again", client_id=client_id))
    after = await any_store.append_message(message(cid, "next"))
    assert (first.message.seq, retry.created, retry.message.seq, after.message.seq) == (1, False, 1, 2)


async def test_a_refused_append_uses_no_offset(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    original = await any_store.append_message(message(cid, "x"))
    with pytest.raises(REFUSED):  # a second message with a stored id
        await any_store.append_message(replace(original.message, content="y", seq=0))
    assert (await any_store.append_message(message(cid, "next"))).message.seq == 2


async def test_offsets_keep_growing_after_deletes_and_a_clear(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    stored = [(await any_store.append_message(message(cid, str(i)))).message for i in range(3)]
    assert await any_store.delete_message(cid, stored[2].id)
    assert (await any_store.append_message(message(cid, "after delete"))).message.seq == 4
    await any_store.clear_messages(cid)
    assert (await any_store.append_message(message(cid, "after clear"))).message.seq == 5


async def test_history_reads_by_offset_with_exclusive_bounds(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    # created_at deliberately out of order: offset bounds and order follow seq, not the clock
    for i, at in enumerate((50, 40, 30, 20, 10), start=1):
        await any_store.append_message(message(cid, f"m{i}", at=at))

    async def read(**bounds: Any) -> list[int]:
        return [m.seq for m in await any_store.list_messages(cid, limit=bounds.pop("limit", 100), **bounds)]

    assert await read(after_seq=2) == [5, 4, 3]
    assert await read(before_seq=3) == [2, 1]
    assert await read(after_seq=1, before_seq=5) == [4, 3, 2]
    assert await read(after_seq=2, limit=2) == [5, 4]  # the newest of them
    assert await read(after_seq=5) == []
    assert await any_store.count_messages_after_seq(cid, 2) == 3
    assert await any_store.count_messages_after_seq(cid, 5) == 0
    assert await any_store.count_messages_after_seq(cid, 1, through=3) == 2


async def test_concurrent_appends_through_one_sqlite_store_get_one_offset_each(tmp_path: Path) -> None:
    """The group commit gathers these into shared transactions; each op still takes the next offset."""
    store = SQLiteStore(tmp_path / "seq.sqlite3")
    await store.open()
    try:
        await with_server(store)
        cid = await channel(store)
        n = 300
        results = await asyncio.gather(*(store.append_message(message(cid, str(i))) for i in range(n)))
        assert sorted(r.message.seq for r in results) == list(range(1, n + 1))
        assert await seqs(store, cid) == list(range(1, n + 1))
    finally:
        await store.close()


async def test_several_postgres_stores_appending_to_one_channel_give_each_offset_once(pg_backend: Backend) -> None:
    """Four stores (four nodes) on one database, 400 appends at once, some of them retries of a client
    id racing their original: offsets 1..N exactly once, a retry gets its original's."""
    stores = [pg_backend.make() for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        await with_server(stores[0])
        cid = await channel(stores[0])
        client_ids = [new_id() for _ in range(40)]
        plain = [message(cid, f"p{i}") for i in range(320)]
        retried = [message(cid, f"r{i}", client_id=client_ids[i % 40]) for i in range(80)]  # each client id twice
        calls = [(stores[i % 4], m) for i, m in enumerate(plain + retried)]
        results = await asyncio.gather(*(s.append_message(m) for s, m in calls))
        created = [r.message.seq for r in results if r.created]
        assert len(created) == 320 + 40
        assert sorted(created) == list(range(1, 361))
        assert await seqs(stores[1], cid) == list(range(1, 361))
        by_client: dict[str | None, set[int]] = {}
        for r in results:
            if r.message.client_message_id:
                by_client.setdefault(r.message.client_message_id, set()).add(r.message.seq)
        assert all(len(v) == 1 for v in by_client.values())  # the retry answered with its original's offset
    finally:
        await asyncio.gather(*(s.close() for s in stores))


# migrations: existing messages are numbered per channel by (created_at, id) ---------------------

OLD_ROWS = [  # (id, channel, created_at)
    ("b", "c1", 20),
    ("a", "c1", 20),
    ("z", "c1", 10),
    ("y", "c2", 5),
    ("x", "c1", 30),
]
EXPECTED = {"z": 1, "a": 2, "b": 3, "x": 4, "y": 1}


def _old_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)")
        for version, script in sqlite_schema.MIGRATIONS[:3]:
            db.executescript(script)
            db.execute("INSERT INTO schema_migrations VALUES (?, 0)", (version,))
        db.execute("INSERT INTO message_servers VALUES (?, 's', 't', NULL, '{}', 0, 0)", (SERVER,))
        for cid in ("c1", "c2"):
            db.execute("INSERT INTO channels VALUES (?, ?, 'n', 'GROUP', NULL, NULL, NULL, '{}', 0, 0)", (cid, SERVER))
        for mid, cid, at in OLD_ROWS:
            db.execute(
                "INSERT INTO central_messages (id, channel_id, author_id, content, source_type, created_at, updated_at)"
                " VALUES (?, ?, 'u', 'old', 't', ?, ?)",
                (mid, cid, at, at),
            )


async def expect_numbered(store: Store) -> None:
    """The opened, upgraded ``store`` numbered OLD_ROWS as EXPECTED and goes on from there; closes it."""
    try:
        got = {m.id: m.seq for c in ("c1", "c2") for m in await store.list_messages(c, limit=-1)}
        assert got == EXPECTED
        assert (await store.append_message(message("c1", "new"))).message.seq == 5
        assert (await store.append_message(message("c2", "new"))).message.seq == 2
    finally:
        await store.close()


async def test_an_upgraded_sqlite_database_numbers_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _old_sqlite(path)
    store = SQLiteStore(path)
    await store.open()
    await expect_numbered(store)


async def test_an_upgraded_postgres_database_numbers_its_messages() -> None:
    async with fresh_schema() as schema:
        conn = await asyncpg.connect(postgres_url(schema))
        try:
            await conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ)")
            for version, script in postgres_schema.MIGRATIONS[:3]:
                await conn.execute(script)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, now())", version)
            await conn.execute("INSERT INTO message_servers VALUES ($1, 's', 't', NULL, '{}', 0, 0)", SERVER)
            for cid in ("c1", "c2"):
                await conn.execute(
                    "INSERT INTO channels VALUES ($1, $2, 'n', 'GROUP', NULL, NULL, NULL, '{}', 0, 0)", cid, SERVER
                )
            for mid, cid, at in OLD_ROWS:
                await conn.execute(
                    "INSERT INTO central_messages (id, channel_id, author_id, content, source_type, created_at,"
                    " updated_at) VALUES ($1, $2, 'u', 'old', 't', $3, $3)",
                    mid,
                    cid,
                    at,
                )
        finally:
            await conn.close()
        store = PostgresStore(postgres_url(schema))
        await store.open()
        await expect_numbered(store)


async def test_a_burst_into_one_postgres_store_is_gathered_and_numbered_in_arrival_order(pg_backend: Backend) -> None:
    """Appends arriving together are written together (pg_batch): each channel numbers them in the order
    they arrived, a repeat inside the burst or of a stored id gets its original, and nothing is skipped."""
    store = pg_backend.make()
    await store.open()
    try:
        await with_server(store)
        channels = [await channel(store) for _ in range(3)]
        stored_before = await store.append_message(message(channels[0], "before", client_id="kept"))
        burst = [message(channels[i % 3], f"m{i}", client_id=f"c{i}") for i in range(600)]
        burst += [message(channels[0], "repeat of one in the burst", client_id="c0")]
        burst += [message(channels[0], "repeat of one stored before", client_id="kept")]
        results = await asyncio.gather(*(store.append_message(m) for m in burst))
        for cid in channels:
            arrived = [r.message for r, m in zip(results, burst, strict=True) if m.channel_id == cid and r.created]
            first = 2 if cid == channels[0] else 1  # "before" took 1 in the first channel
            assert [m.seq for m in arrived] == list(range(first, first + len(arrived)))
            assert await seqs(store, cid) == list(range(1, first + len(arrived)))
        repeat_in_burst, repeat_of_stored = results[-2], results[-1]
        assert not repeat_in_burst.created and repeat_in_burst.message.id == results[0].message.id
        assert not repeat_of_stored.created and repeat_of_stored.message.seq == stored_before.message.seq
    finally:
        await store.close()
