"""The SQLite store: durable, idempotent by client id, ordered, and gathering concurrent writes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eliza_messaging.records import Channel, Message, MessageServer
from eliza_messaging.store.sqlite import SQLiteStore
from eliza_messaging.store.sqlite_schema import MIGRATIONS
from tests.conftest import new_id

SERVER = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "m.sqlite3")
    await s.open()
    await s.ensure_message_server(MessageServer(id=SERVER, name="Default", source_type="test"))
    yield s
    await s.close()


def message(channel: str, text: str, *, author: str = "a", client_id: str | None = None, at: int = 1) -> Message:
    return Message(
        id=new_id(),
        channel_id=channel,
        author_id=author,
        author_name="A",
        content=text,
        source_type="test",
        created_at=at,
        updated_at=at,
        client_message_id=client_id,
    )


async def channel(store: SQLiteStore) -> str:
    cid = new_id()
    await store.ensure_channel(Channel(id=cid, message_server_id=SERVER, name="c", type="GROUP"), ["a"])
    return cid


async def test_the_same_client_id_from_the_same_author_is_stored_once(store: SQLiteStore) -> None:
    cid, client_id = await channel(store), new_id()
    first = await store.append_message(message(cid, "x", client_id=client_id))
    again = await store.append_message(message(cid, "x", client_id=client_id))
    other_author = await store.append_message(message(cid, "x", author="b", client_id=client_id))
    assert first.created and not again.created and other_author.created
    assert again.message.id == first.message.id
    assert len(await store.list_messages(cid, limit=10)) == 2


async def test_concurrent_writes_are_all_committed_in_arrival_order(store: SQLiteStore) -> None:
    cid = await channel(store)
    results = await asyncio.gather(*(store.append_message(message(cid, f"m{i}", at=5)) for i in range(300)))
    assert all(r.created for r in results)
    listed = await store.list_messages(cid, limit=1000)
    assert [m.content for m in reversed(listed)] == [f"m{i}" for i in range(300)]


async def test_one_failing_write_does_not_spoil_its_batch(store: SQLiteStore) -> None:
    cid = await channel(store)
    good = [store.append_message(message(cid, f"ok{i}")) for i in range(3)]
    orphan = store.append_message(message(new_id(), "no such channel"))  # foreign key violation
    outcomes = await asyncio.gather(*good, orphan, return_exceptions=True)
    assert isinstance(outcomes[3], sqlite3.IntegrityError)
    assert len(await store.list_messages(cid, limit=10)) == 3


async def test_before_and_after_are_exclusive_bounds(store: SQLiteStore) -> None:
    cid = await channel(store)
    for at in (10, 20, 30, 40):
        await store.append_message(message(cid, str(at), at=at))
    assert [m.content for m in await store.list_messages(cid, limit=10, before=30)] == ["20", "10"]
    assert [m.content for m in await store.list_messages(cid, limit=10, after=20)] == ["40", "30"]
    assert [m.content for m in await store.list_messages(cid, limit=1)] == ["40"]


async def test_reopening_keeps_data_and_does_not_rerun_migrations(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite3"
    first = SQLiteStore(path)
    await first.open()
    await first.ensure_message_server(MessageServer(id=SERVER, name="Default", source_type="test"))
    await first.close()
    second = SQLiteStore(path)
    await second.open()
    assert [s.id for s in await second.list_message_servers()] == [SERVER]
    assert await second.ping()
    await second.close()
    versions = sqlite3.connect(path).execute("SELECT version FROM schema_migrations").fetchall()
    assert versions == [(version,) for version, _ in MIGRATIONS]  # each applied exactly once
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)
