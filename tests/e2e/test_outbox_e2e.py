"""Nothing stranded, seen from outside: a stored message that was never published reaches the room
and the agents, and a channel changed on one node is seen changed on the other at once.

A crash between store and publish leaves a row that is stored but unpublished. The tests write
exactly that row into the real database (the SQLite file, the PostgreSQL table), with the columns
every release has had, so the same test shows the hole on the code before the outbox.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import orjson

from tests.agents.test_agents_e2e import agents
from tests.conftest import new_id
from tests.e2e.helpers import join, send, two_nodes
from tests.e2e.test_memory import history
from tests.store.conftest import postgres_schema, postgres_url
from tests.support.redis_env import REDIS_TEST_URL, redis_prefix
from tests.support.server import ServerProcess

DEFAULT_SERVER = "00000000-0000-0000-0000-000000000000"
FAST_OUTBOX = {"ELIZA_OUTBOX_LEASE": "1", "ELIZA_OUTBOX_SWEEP": "0.3"}
CHANNELS = "/api/messaging/channels"

INSERT = (
    "INSERT INTO central_messages (id, channel_id, author_id, author_name, content, raw_message,"
    " source_type, metadata, client_message_id, created_at, updated_at, channel_seq) VALUES ({})"
)
# The channel's next offset, taken as the store takes it in the insert's transaction (a crash after the
# commit leaves the row with its offset).
NEXT_SEQ = (
    "INSERT INTO channel_offsets (channel_id, last_seq) VALUES ({}, 1)"
    " ON CONFLICT (channel_id) DO UPDATE SET last_seq = channel_offsets.last_seq + 1 RETURNING last_seq"
)


def stranded_row(room: str, author: str, text: str) -> tuple[Any, ...]:
    """A user's message as the store holds it before its broadcast: what a crash right then leaves."""
    now = int(time.time() * 1000)
    raw = {"senderName": "Tester", "source": "test", "attachments": [], "serverId": DEFAULT_SERVER}
    return (new_id(), room, author, "Tester", text, raw, "test", {"isDm": True}, new_id(), now, now)


async def dm_with_eliza(url: str, clients: Any) -> tuple[Any, str, str, str]:
    """A client in a DM with Eliza that has already been answered once (so the channel is stored)."""
    eliza = agents(url)["Eliza"]
    room, me = new_id(), new_id()
    user = await clients(url)
    await user.connected()
    await user.call("message", join(room, me, metadata={"isDm": True, "targetUserId": eliza}))
    await user.call("message", send(room, me, "Hello there", metadata={"isDm": True}))
    await user.event("messageBroadcast", where=lambda m: m["senderId"] == eliza, timeout=20)
    await user.event("messageComplete", timeout=20)
    return user, eliza, room, me


async def wait_for_reply_in_history(url: str, room: str, message_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in history(url, room):
            if m.get("inReplyToRootMessageId") == message_id:
                return m
        await asyncio.sleep(0.2)
    raise AssertionError(f"no reply to {message_id} in {room}'s history after {timeout}s: {history(url, room)}")


async def test_a_row_left_unpublished_by_a_crash_is_answered_after_the_restart(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    proc = server_factory(FAST_OUTBOX)
    user, eliza, room, me = await dm_with_eliza(proc.url, clients)
    await user.close()
    proc.stop()
    row = stranded_row(room, me, "I dreamt about a ship")
    with sqlite3.connect(proc.data_dir / "messaging.sqlite3") as db:
        seq = db.execute(NEXT_SEQ.format("?"), (room,)).fetchone()[0]
        db.execute(
            INSERT.format(",".join("?" * (len(row) + 1))),
            (*(orjson.dumps(v).decode() if isinstance(v, dict) else v for v in row), seq),
        )
    proc.start()
    reply = await wait_for_reply_in_history(proc.url, room, row[0])
    assert reply["authorId"] == eliza
    answers = [m for m in history(proc.url, room) if m.get("inReplyToRootMessageId") == row[0]]
    assert len(answers) == 1  # published once


async def test_a_stored_message_nobody_published_reaches_the_room_and_the_agent(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    """The running server finds the unpublished row itself (its sweep) and the room hears it live."""
    proc = server_factory(FAST_OUTBOX)
    user, eliza, room, me = await dm_with_eliza(proc.url, clients)
    row = stranded_row(room, me, "My mother does not listen to me")
    with sqlite3.connect(proc.data_dir / "messaging.sqlite3", timeout=10) as db:
        seq = db.execute(NEXT_SEQ.format("?"), (room,)).fetchone()[0]
        db.execute(
            INSERT.format(",".join("?" * (len(row) + 1))),
            (*(orjson.dumps(v).decode() if isinstance(v, dict) else v for v in row), seq),
        )
    got = await user.event("messageBroadcast", where=lambda m: m["id"] == row[0], timeout=20)
    assert got["text"] == "My mother does not listen to me"
    reply = await user.event(
        "messageBroadcast", where=lambda m: m["senderId"] == eliza and m.get("inReplyTo") == row[0], timeout=20
    )
    assert reply["text"]
    await user.quiet(1.0)
    assert [m["id"] for m in user.events("messageBroadcast")].count(row[0]) == 1


async def test_two_nodes_publish_a_crashed_nodes_row_once(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    async with postgres_schema() as schema, redis_prefix() as prefix:
        env = {
            "POSTGRES_URL": postgres_url(schema),
            "REDIS_URL": REDIS_TEST_URL,
            "ELIZA_REDIS_PREFIX": prefix,
            **FAST_OUTBOX,
        }
        a, b = server_factory(env), server_factory(env)
        try:
            user, eliza, room, me = await dm_with_eliza(b.url, clients)
            row = stranded_row(room, me, "I am unhappy with my work")
            conn = await asyncpg.connect(postgres_url(schema))
            try:
                await conn.set_type_codec(
                    "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
                )
                async with conn.transaction():
                    seq = await conn.fetchval(NEXT_SEQ.format("$1"), room)
                    await conn.execute(INSERT.format(",".join(f"${i}" for i in range(1, len(row) + 2))), *row, seq)
            finally:
                await conn.close()
            got = await user.event("messageBroadcast", where=lambda m: m["id"] == row[0], timeout=20)
            assert got["text"] == "I am unhappy with my work"
            await user.event(
                "messageBroadcast", where=lambda m: m["senderId"] == eliza and m.get("inReplyTo") == row[0], timeout=20
            )
            await user.quiet(1.5)  # both nodes sweep every 0.3 s: a second publish would show up by now
            assert [m["id"] for m in user.events("messageBroadcast")].count(row[0]) == 1
            answers = [m for m in history(a.url, room) if m.get("inReplyToRootMessageId") == row[0]]
            assert len(answers) == 1
        finally:
            a.stop()
            b.stop()


async def test_a_channel_changed_on_one_node_is_seen_changed_on_the_other(
    server_factory: Callable[..., ServerProcess],
) -> None:
    async with two_nodes(server_factory) as (a, b):
        created = httpx.post(f"{a.url}{CHANNELS}", json={"name": "before", "messageServerId": DEFAULT_SERVER})
        assert created.status_code == 201, created.text
        channel = created.json()["data"]["id"]
        assert httpx.get(f"{b.url}{CHANNELS}/{channel}/details").json()["data"]["name"] == "before"  # B caches it
        changed = httpx.patch(f"{a.url}{CHANNELS}/{channel}", json={"name": "after"})
        assert changed.status_code == 200, changed.text
        # Node B hears of the change over Redis pub/sub, a few milliseconds after A answered; without
        # that it kept the old channel in its cache for good.
        assert (
            await eventually(lambda: httpx.get(f"{b.url}{CHANNELS}/{channel}/details").json()["data"]["name"])
            == "after"
        )
        assert httpx.delete(f"{a.url}{CHANNELS}/{channel}").status_code == 204
        assert await eventually(lambda: httpx.get(f"{b.url}{CHANNELS}/{channel}/details").status_code) == 404


async def eventually(read: Callable[[], Any], *, within_s: float = 2.0) -> Any:
    """The value ``read`` settles on within ``within_s`` (the last one read, if it never settles)."""
    deadline = time.monotonic() + within_s
    first = value = read()
    while time.monotonic() < deadline:
        value = read()
        if value != first:
            return value
        await asyncio.sleep(0.05)
    return value
