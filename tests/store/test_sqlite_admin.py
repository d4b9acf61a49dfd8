"""The store's administration and session methods: deletes cascade, sessions round-trip, counts and paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from eliza_messaging.records import Channel, ChatSession, Message, MessageServer
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id

SERVER = "00000000-0000-0000-0000-000000000000"
MINUTE = 60_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "m.sqlite3")
    await s.open()
    await s.ensure_message_server(MessageServer(id=SERVER, name="Default", source_type="test"))
    yield s
    await s.close()


async def channel(store: SQLiteStore, *participants: str) -> str:
    cid = new_id()
    await store.ensure_channel(Channel(id=cid, message_server_id=SERVER, name="c", type="DM"), participants)
    return cid


def message(channel_id: str, text: str, at: int) -> Message:
    return Message(
        id=new_id(),
        channel_id=channel_id,
        author_id="a",
        author_name="A",
        content=text,
        source_type="test",
        created_at=at,
        updated_at=at,
    )


def chat_session(channel_id: str, *, expires_at: int, warning: float = 5) -> ChatSession:
    return ChatSession(
        id=new_id(),
        agent_id="agent",
        user_id="user",
        channel_id=channel_id,
        timeout_minutes=30,
        auto_renew=True,
        max_duration_minutes=720,
        warning_threshold_minutes=warning,
        created_at=0,
        last_activity=0,
        expires_at=expires_at,
        metadata={"plan": "pro"},
    )


async def test_deleting_a_channel_takes_its_messages_participants_and_sessions(store: SQLiteStore) -> None:
    cid = await channel(store, "a", "b")
    await store.append_message(message(cid, "x", 1))
    session = chat_session(cid, expires_at=10)
    await store.save_session(session)
    assert await store.delete_channel(cid) is True
    assert await store.get_channel(cid) is None and await store.list_participants(cid) == []
    assert await store.list_messages(cid, limit=10) == [] and await store.get_session(session.id) is None
    assert await store.delete_channel(cid) is False


async def test_participants_agents_and_messages_are_removed_one_by_one(store: SQLiteStore) -> None:
    cid = await channel(store, "a", "b")
    assert await store.remove_participant(cid, "a") is True and await store.remove_participant(cid, "a") is False
    await store.set_participants(cid, ["c", "d", "c"])
    assert await store.list_participants(cid) == ["c", "d"]
    await store.add_server_agent(SERVER, "agent")
    assert await store.remove_server_agent(SERVER, "agent") is True
    assert await store.remove_server_agent(SERVER, "agent") is False
    first, second = message(cid, "1", 1), message(cid, "2", 2)
    for m in (first, second):
        await store.append_message(m)
    assert await store.delete_message(new_id(), first.id) is False  # another channel's id
    assert await store.delete_message(cid, first.id) is True
    assert await store.clear_messages(cid) == 1


async def test_update_message_and_forward_paging(store: SQLiteStore) -> None:
    cid = await channel(store)
    stored = [message(cid, str(at), at) for at in (10, 20, 30, 40)]
    for m in stored:
        await store.append_message(m)
    changed = await store.update_message(replace(stored[0], content="edited", metadata={"k": 1}, updated_at=99))
    assert (changed.content, changed.metadata, changed.updated_at, changed.created_at) == ("edited", {"k": 1}, 99, 10)
    assert [m.content for m in await store.list_messages_after(cid, after=10, limit=2)] == ["20", "30"]


async def test_sessions_round_trip_and_are_counted(store: SQLiteStore) -> None:
    cid = await channel(store)
    now = 100 * MINUTE
    live = chat_session(cid, expires_at=now + 30 * MINUTE)
    soon = chat_session(cid, expires_at=now + 2 * MINUTE)
    gone = chat_session(cid, expires_at=now - MINUTE)
    for s in (live, soon, gone):
        await store.save_session(s)
    assert await store.get_session(live.id) == live
    await store.save_session(replace(live, renewal_count=3))
    assert (await store.get_session(live.id)).renewal_count == 3  # type: ignore[union-attr]
    assert await store.session_counts(now) == (3, 2, 1)
    assert {s.id for s in await store.list_sessions(active_at=now)} == {live.id, soon.id}
    assert await store.delete_sessions_expired_before(now) == 1
    assert await store.delete_session(soon.id) is True and await store.delete_session(soon.id) is False
    assert [s.id for s in await store.list_sessions()] == [live.id]
