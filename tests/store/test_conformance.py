"""The ``Store`` contract, one suite for every backend: each test runs on SQLite and on PostgreSQL.

What a caller may rely on whichever database is configured: idempotent appends, newest-first
order with exclusive bounds, ensure_* returning the original, cascading deletes, sessions
that round-trip, safety under concurrent calls, and migrations applied once.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from typing import Any

import pytest

from eliza_messaging.records import Channel, ChatSession, Message, MessageServer
from eliza_messaging.store.base import Store, StoreError
from tests.conftest import new_id
from tests.store.conftest import Backend

SERVER = "00000000-0000-0000-0000-000000000000"
MINUTE = 60_000
# A constraint the database enforces: SQLite reports its own error, PostgresStore a StoreError.
REFUSED = (StoreError, sqlite3.Error)


# builders -------------------------------------------------------------------------------


def message_server(server_id: str = SERVER, *, name: str = "Default", at: int = 1) -> MessageServer:
    return MessageServer(
        id=server_id, name=name, source_type="test", source_id="src", metadata={"k": [1, "v"]}, created_at=at
    )


async def with_server(store: Store, server_id: str = SERVER) -> Store:
    await store.ensure_message_server(message_server(server_id))
    return store


def channel_record(channel_id: str | None = None, *, server: str = SERVER, name: str = "c", at: int = 1) -> Channel:
    return Channel(
        id=channel_id or new_id(),
        message_server_id=server,
        name=name,
        type="GROUP",
        source_type="test",
        source_id="origin",
        topic="talk",
        metadata={"hint": True},
        created_at=at,
        updated_at=at,
    )


async def channel(store: Store, *participants: str, server: str = SERVER) -> str:
    created = await store.ensure_channel(channel_record(server=server), participants)
    return created.id


def message(
    channel_id: str, text: str, *, at: int = 1, author: str = "a", client_id: str | None = None, **extra: Any
) -> Message:
    return Message(
        id=new_id(),
        channel_id=channel_id,
        author_id=author,
        author_name="Ann",
        content=text,
        source_type="test",
        created_at=at,
        updated_at=at,
        client_message_id=client_id,
        **extra,
    )


def chat_session(channel_id: str, *, expires_at: int, created_at: int = 0, warning: float = 5) -> ChatSession:
    return ChatSession(
        id=new_id(),
        agent_id="agent",
        user_id="user",
        channel_id=channel_id,
        timeout_minutes=30.5,
        auto_renew=True,
        max_duration_minutes=720,
        warning_threshold_minutes=warning,
        created_at=created_at,
        last_activity=created_at,
        expires_at=expires_at,
        metadata={"plan": "pro", "nested": {"n": 1.25}},
    )


async def contents(store: Store, channel_id: str, **bounds: Any) -> list[str]:
    return [m.content for m in await store.list_messages(channel_id, limit=bounds.pop("limit", 100), **bounds)]


# lifecycle and migrations -----------------------------------------------------------------


async def test_reopening_keeps_the_data_and_applies_each_migration_once(backend: Backend) -> None:
    first = backend.make()
    await first.open()
    assert await first.ping() is True
    await first.ensure_message_server(message_server())
    await first.close()
    assert await first.ping() is False
    with pytest.raises(StoreError):
        await first.get_message_server(SERVER)  # closed
    second = backend.make()
    await second.open()
    try:
        assert [s.id for s in await second.list_message_servers()] == [SERVER]
    finally:
        await second.close()
    assert await backend.migrations() == [1, 2, 3, 4, 5, 6, 7, 8]


async def test_nodes_starting_together_migrate_once(pg_backend: Backend) -> None:
    """Several processes opening one empty database at once (SQLite is one process's file)."""
    stores = [pg_backend.make() for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        await asyncio.gather(*(s.ensure_message_server(message_server()) for s in stores))
        assert [len(await s.list_message_servers()) for s in stores] == [1, 1, 1, 1]
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert await pg_backend.migrations() == [1, 2, 3, 4, 5, 6, 7, 8]


# message servers --------------------------------------------------------------------------


async def test_ensure_message_server_creates_once_and_returns_the_original(any_store: Store) -> None:
    created = await any_store.ensure_message_server(message_server(name="First", at=5))
    assert created == message_server(name="First", at=5)
    again = await any_store.ensure_message_server(message_server(name="Second", at=9))
    assert again == created
    assert await any_store.get_message_server(SERVER) == created
    assert await any_store.get_message_server(new_id()) is None


async def test_message_servers_are_listed_oldest_first_then_by_id(any_store: Store) -> None:
    ids = ["b", "a", "C"]
    for server_id in ids:
        await any_store.ensure_message_server(message_server(server_id, at=7))
    await any_store.ensure_message_server(message_server("z", at=1))
    assert [s.id for s in await any_store.list_message_servers()] == ["z", "C", "a", "b"]  # bytewise


async def test_server_agents_are_added_once_listed_and_removed(any_store: Store) -> None:
    await with_server(any_store)
    other = new_id()
    await with_server(any_store, other)
    for agent in ("b", "a", "b"):
        await any_store.add_server_agent(SERVER, agent)
    assert await any_store.list_server_agents(SERVER) == ["a", "b"]
    assert await any_store.list_server_agents(other) == []
    assert await any_store.remove_server_agent(SERVER, "a") is True
    assert await any_store.remove_server_agent(SERVER, "a") is False
    assert await any_store.remove_server_agent(other, "b") is False
    assert await any_store.list_server_agents(SERVER) == ["b"]


# channels ---------------------------------------------------------------------------------


async def test_ensure_channel_creates_once_and_still_adds_participants(any_store: Store) -> None:
    await with_server(any_store)
    record = channel_record(at=3)
    assert await any_store.ensure_channel(record, ["u1", "u2", "u1"]) == record
    again = await any_store.ensure_channel(replace(record, name="renamed", type="DM", created_at=9), ["u3"])
    assert again == record
    assert await any_store.get_channel(record.id) == record
    assert await any_store.get_channel(new_id()) is None
    assert await any_store.list_participants(record.id) == ["u1", "u2", "u3"]


async def test_a_channel_on_an_unknown_server_is_refused(any_store: Store) -> None:
    await with_server(any_store)
    with pytest.raises(REFUSED):
        await any_store.ensure_channel(channel_record(server=new_id()))


async def test_channels_are_listed_per_server_oldest_first(any_store: Store) -> None:
    other = new_id()
    await with_server(any_store)
    await with_server(any_store, other)
    late = await any_store.ensure_channel(channel_record(at=20))
    early = await any_store.ensure_channel(channel_record(at=10))
    elsewhere = await any_store.ensure_channel(channel_record(server=other))
    assert [c.id for c in await any_store.list_channels(SERVER)] == [early.id, late.id]
    assert await any_store.list_channels(other) == [elsewhere]
    assert await any_store.list_channels(new_id()) == []


async def test_channels_are_listed_for_one_participant(any_store: Store) -> None:
    other = new_id()
    await with_server(any_store)
    await with_server(any_store, other)
    me, someone = new_id(), new_id()
    mine = await any_store.ensure_channel(channel_record(at=20), participants=[me, someone])
    theirs = await any_store.ensure_channel(channel_record(at=10), participants=[someone])
    joined_later = await any_store.ensure_channel(channel_record(at=30))
    await any_store.add_participants(joined_later.id, [me])
    await any_store.ensure_channel(channel_record(server=other), participants=[me])
    assert [c.id for c in await any_store.list_channels(SERVER, participant=me)] == [mine.id, joined_later.id]
    assert [c.id for c in await any_store.list_channels(SERVER, participant=someone)] == [theirs.id, mine.id]
    assert await any_store.list_channels(SERVER, participant=new_id()) == []
    assert (await any_store.list_channels(SERVER, participant=me))[0] == mine


async def test_update_channel_replaces_only_the_mutable_fields(any_store: Store) -> None:
    await with_server(any_store)
    original = await any_store.ensure_channel(channel_record(at=3))
    wanted = replace(
        original,
        message_server_id=new_id(),  # not mutable: ignored
        name="renamed",
        type="DM",
        source_type="other",  # not mutable: ignored
        topic=None,
        metadata={"isDm": True, "list": [1, 2]},
        created_at=99,  # not mutable: ignored
        updated_at=50,
    )
    expected = replace(original, name="renamed", type="DM", topic=None, metadata=wanted.metadata, updated_at=50)
    assert await any_store.update_channel(wanted) == expected
    assert await any_store.get_channel(original.id) == expected
    with pytest.raises(StoreError):
        await any_store.update_channel(channel_record())


async def test_participants_are_added_removed_and_replaced(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    await any_store.add_participants(cid, [])
    await any_store.add_participants(cid, ["b", "a", "b"])
    await any_store.add_participants(cid, ["a", "C"])
    assert await any_store.list_participants(cid) == ["C", "a", "b"]  # bytewise order, as SQLite sorts
    assert await any_store.remove_participant(cid, "a") is True
    assert await any_store.remove_participant(cid, "a") is False
    await any_store.set_participants(cid, ["d", "b", "d"])
    assert await any_store.list_participants(cid) == ["b", "d"]
    await any_store.set_participants(cid, [])
    assert await any_store.list_participants(cid) == []
    assert await any_store.list_participants(new_id()) == []


async def test_deleting_a_channel_takes_its_messages_participants_and_sessions(any_store: Store) -> None:
    await with_server(any_store)
    doomed, kept = await channel(any_store, "a", "b"), await channel(any_store, "a")
    gone_message = message(doomed, "x", client_id="c1")
    await any_store.append_message(gone_message)
    kept_message = (await any_store.append_message(message(kept, "y"))).message
    gone_session, kept_session = chat_session(doomed, expires_at=10), chat_session(kept, expires_at=10)
    await any_store.save_session(gone_session)
    await any_store.save_session(kept_session)
    assert await any_store.delete_channel(doomed) is True
    assert await any_store.get_channel(doomed) is None
    assert await any_store.list_participants(doomed) == []
    assert await any_store.list_messages(doomed, limit=10) == []
    assert await any_store.get_message(gone_message.id) is None
    assert await any_store.get_session(gone_session.id) is None
    assert await any_store.delete_channel(doomed) is False
    assert await any_store.list_participants(kept) == ["a"]
    assert await any_store.get_message(kept_message.id) == kept_message
    assert await any_store.get_session(kept_session.id) == kept_session


# messages ---------------------------------------------------------------------------------


async def test_a_message_round_trips_every_field(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    stored = message(
        cid,
        "héllo 👋 ‮ \\u0000 literal",
        at=1_700_000_000_123,
        client_id=new_id(),
        raw_message={"senderName": "Ann", "attachments": [{"url": "u", "size": 10}], "n": None},
        in_reply_to_root_message_id=new_id(),
        source_id="ext-1",
        metadata={"float": 1.5, "int": 2**53, "neg": -7, "bool": False, "deep": {"a": [[1], {"b": "ü"}]}},
    )
    outcome = await any_store.append_message(stored)
    stored = replace(stored, seq=1)  # the store gives the channel's first offset
    assert outcome.created is True and outcome.message == stored
    assert await any_store.get_message(stored.id) == stored
    assert await any_store.list_messages(cid, limit=1) == [stored]
    assert await any_store.get_message(new_id()) is None


async def test_the_same_client_id_from_the_same_author_in_the_same_channel_is_stored_once(any_store: Store) -> None:
    await with_server(any_store)
    cid, elsewhere, client_id = await channel(any_store), await channel(any_store), new_id()
    first = await any_store.append_message(message(cid, "x", client_id=client_id))
    retry = await any_store.append_message(message(cid, "changed on retry", at=5, client_id=client_id))
    assert first.created is True and retry.created is False
    assert retry.message == first.message
    assert (await any_store.append_message(message(cid, "x", author="b", client_id=client_id))).created
    assert (await any_store.append_message(message(elsewhere, "x", client_id=client_id))).created
    for _ in range(2):  # no client id: never deduplicated
        assert (await any_store.append_message(message(cid, "anonymous"))).created
    assert await contents(any_store, cid) == ["anonymous", "anonymous", "x", "x"]


async def test_a_message_id_cannot_be_stored_twice(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    original = (await any_store.append_message(message(cid, "x"))).message
    with pytest.raises(REFUSED):
        await any_store.append_message(replace(original, content="y"))
    assert await any_store.get_message(original.id) == original


async def test_messages_are_newest_first_and_same_millisecond_in_insertion_order(any_store: Store) -> None:
    await with_server(any_store)
    cid, other = await channel(any_store), await channel(any_store)
    for text, at in (("b1", 20), ("a", 10), ("b2", 20), ("b3", 20), ("c", 30)):
        await any_store.append_message(message(cid, text, at=at))
    await any_store.append_message(message(other, "other channel", at=25))
    assert await contents(any_store, cid) == ["c", "b3", "b2", "b1", "a"]
    assert await contents(any_store, cid, limit=2) == ["c", "b3"]
    assert await contents(any_store, cid, limit=0) == []
    assert await contents(any_store, cid, limit=-1) == ["c", "b3", "b2", "b1", "a"]  # negative: no limit
    assert await contents(any_store, new_id()) == []


async def test_before_and_after_are_exclusive_bounds(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    for at in (10, 20, 30, 40):
        await any_store.append_message(message(cid, str(at), at=at))
    assert await contents(any_store, cid, before=30) == ["20", "10"]
    assert await contents(any_store, cid, after=20) == ["40", "30"]
    assert await contents(any_store, cid, after=10, before=40) == ["30", "20"]
    assert await contents(any_store, cid, after=20, before=30) == []
    assert await contents(any_store, cid, before=30, limit=1) == ["20"]


async def test_messages_after_are_the_oldest_first(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    for text, at in (("10", 10), ("20a", 20), ("20b", 20), ("30", 30), ("40", 40)):
        await any_store.append_message(message(cid, text, at=at))

    async def after(at: int, limit: int) -> list[str]:
        return [m.content for m in await any_store.list_messages_after(cid, after=at, limit=limit)]

    assert await after(10, 3) == ["20a", "20b", "30"]
    assert await after(30, 10) == ["40"]
    assert await after(40, 10) == []
    assert await after(0, -1) == ["10", "20a", "20b", "30", "40"]


async def test_update_message_replaces_the_mutable_fields(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    original = (await any_store.append_message(message(cid, "draft", at=10, client_id=new_id(), source_id="s"))).message
    wanted = replace(
        original,
        content="edited",
        raw_message={"edited": True},
        source_type="agent_response",
        in_reply_to_root_message_id="root",
        metadata={"k": 1},
        updated_at=99,
        author_id="not mutable",
        created_at=12345,
        client_message_id="not mutable",
    )
    expected = replace(
        original,
        content="edited",
        raw_message={"edited": True},
        source_type="agent_response",
        in_reply_to_root_message_id="root",
        metadata={"k": 1},
        updated_at=99,
    )
    assert await any_store.update_message(wanted) == expected
    assert await any_store.get_message(original.id) == expected
    with pytest.raises(StoreError):
        await any_store.update_message(message(cid, "never stored"))


async def test_messages_are_deleted_one_by_one_or_cleared_per_channel(any_store: Store) -> None:
    await with_server(any_store)
    cid, other = await channel(any_store), await channel(any_store)
    first, second, third = (message(cid, str(i), at=i) for i in range(3))
    for m in (first, second, third, message(other, "stays")):
        await any_store.append_message(m)
    assert await any_store.delete_message(other, first.id) is False  # another channel's message
    assert await any_store.delete_message(cid, first.id) is True
    assert await any_store.delete_message(cid, first.id) is False
    assert await any_store.clear_messages(cid) == 2
    assert await any_store.clear_messages(cid) == 0
    assert await contents(any_store, other) == ["stays"]
    # a cleared client id may be used again
    client_id = new_id()
    await any_store.append_message(message(cid, "1", client_id=client_id))
    await any_store.clear_messages(cid)
    assert (await any_store.append_message(message(cid, "2", client_id=client_id))).created


# concurrency ------------------------------------------------------------------------------


async def test_many_concurrent_appends_are_all_stored(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    sent = [message(cid, f"m{i}", at=5) for i in range(200)]
    results = await asyncio.gather(*(any_store.append_message(m) for m in sent))
    assert all(r.created for r in results)
    listed = await any_store.list_messages(cid, limit=1000)
    assert sorted(m.id for m in listed) == sorted(m.id for m in sent)


async def test_concurrent_retries_of_one_client_id_store_it_once(any_store: Store) -> None:
    await with_server(any_store)
    cid, client_id = await channel(any_store), new_id()
    results = await asyncio.gather(
        *(any_store.append_message(message(cid, "x", client_id=client_id)) for _ in range(30))
    )
    assert sum(r.created for r in results) == 1
    assert len({r.message.id for r in results}) == 1
    assert [m.id for m in await any_store.list_messages(cid, limit=10)] == [results[0].message.id]


async def test_concurrent_ensures_agree_on_one_record(any_store: Store) -> None:
    servers = await asyncio.gather(*(any_store.ensure_message_server(message_server(name=f"s{i}")) for i in range(10)))
    assert all(s == servers[0] for s in servers)
    record = channel_record()
    channels = await asyncio.gather(
        *(any_store.ensure_channel(replace(record, name=f"c{i}"), [f"u{i}"]) for i in range(10))
    )
    assert all(c == channels[0] for c in channels)
    assert await any_store.list_participants(record.id) == sorted(f"u{i}" for i in range(10))


async def test_one_failing_write_spares_the_writes_around_it(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    good = [any_store.append_message(message(cid, f"ok{i}")) for i in range(3)]
    orphan = any_store.append_message(message(new_id(), "no such channel"))
    outcomes = await asyncio.gather(*good, orphan, return_exceptions=True)
    assert isinstance(outcomes[3], REFUSED)
    assert len(await any_store.list_messages(cid, limit=10)) == 3


# sessions ---------------------------------------------------------------------------------


async def test_sessions_round_trip_are_replaced_and_deleted(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    session = chat_session(cid, expires_at=10 * MINUTE, warning=2.5)
    await any_store.save_session(session)
    assert await any_store.get_session(session.id) == session
    renewed = replace(session, renewal_count=3, expires_at=20 * MINUTE, auto_renew=False, metadata={})
    await any_store.save_session(renewed)
    assert await any_store.get_session(session.id) == renewed
    assert await any_store.get_session(new_id()) is None
    assert await any_store.delete_session(session.id) is True
    assert await any_store.delete_session(session.id) is False
    with pytest.raises(REFUSED):
        await any_store.save_session(chat_session(new_id(), expires_at=1))  # no such channel


async def test_sessions_are_listed_counted_and_expired(any_store: Store) -> None:
    await with_server(any_store)
    cid = await channel(any_store)
    now = 100 * MINUTE
    live = chat_session(cid, created_at=3, expires_at=now + 30 * MINUTE)
    soon = chat_session(cid, created_at=1, expires_at=now + 2 * MINUTE)
    edge = chat_session(cid, created_at=2, expires_at=now + 5 * MINUTE)  # exactly at the warning threshold
    gone = chat_session(cid, created_at=4, expires_at=now - MINUTE)
    at_now = chat_session(cid, created_at=5, expires_at=now)  # expired at now, not before it
    for s in (live, soon, edge, gone, at_now):
        await any_store.save_session(s)
    assert [s.id for s in await any_store.list_sessions()] == [soon.id, edge.id, live.id, gone.id, at_now.id]
    assert [s.id for s in await any_store.list_sessions(active_at=now)] == [soon.id, edge.id, live.id]
    assert await any_store.session_counts(now) == (5, 3, 2)
    assert await any_store.delete_sessions_expired_before(now) == 1
    assert await any_store.delete_sessions_expired_before(now) == 0
    assert await any_store.session_counts(now) == (4, 3, 2)


async def test_session_counts_of_an_empty_store_are_zero(any_store: Store) -> None:
    assert await any_store.session_counts(0) == (0, 0, 0)
    assert await any_store.list_sessions() == []


# what only one backend can keep -----------------------------------------------------------


async def test_nul_characters_never_fail_a_write(any_store: Store, backend: Backend) -> None:
    """SQLite keeps U+0000; PostgreSQL cannot, so it stores U+FFFD there, in every path alike."""
    kept = "\x00" if backend.name == "sqlite" else "\ufffd"
    server = await any_store.ensure_message_server(replace(message_server(), name="s\x00", metadata={"k\x00": "\x00"}))
    assert (server.name, server.metadata) == (f"s{kept}", {f"k{kept}": kept})
    record = await any_store.ensure_channel(replace(channel_record(), topic="t\x00"), ["p\x00"])
    assert record.topic == f"t{kept}"
    assert await any_store.list_participants(record.id) == [f"p{kept}"]
    assert await any_store.remove_participant(record.id, "p\x00") is True  # lookups map the same way
    updated = await any_store.update_channel(replace(record, metadata={"x": ["\x00"]}))
    assert updated.metadata == {"x": [kept]}
    sent = message(record.id, "text", author="a\x00", client_id="c\x00", metadata={"m": "\x00"}, raw_message={"r": 0})
    stored = await any_store.append_message(sent)
    expected = replace(sent, author_id=f"a{kept}", client_message_id=f"c{kept}", metadata={"m": kept}, seq=1)
    assert stored.message == expected  # what is broadcast is what history shows
    assert await any_store.get_message(sent.id) == expected
    assert (await any_store.append_message(replace(sent, id=new_id()))).created is False
    edited = await any_store.update_message(replace(expected, raw_message={"edit": "\x00"}))
    assert edited.raw_message == {"edit": kept}
    session = replace(chat_session(record.id, expires_at=1), metadata={"\x00": 1})
    await any_store.save_session(session)
    assert await any_store.get_session(session.id) == replace(session, metadata={kept: 1})
