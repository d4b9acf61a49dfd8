"""Cleaning up after a dead node, on a real Redis: what a live node keeps there, who claims a dead one
(exactly one node), and what the room and waiting callers hear when its leftovers are ended.

A node killed with ``kill -9`` leaves its records and no live key; these tests write that state
by hand for the dead node, and use real ``RedisNodeRecords`` for the live ones. The whole path
through real servers is ``tests/e2e/test_dead_node.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from eliza_messaging.fanout.node_records import RedisNodeRecords
from eliza_messaging.messaging.identity import Caller
from eliza_messaging.messaging.nodes import STOPPED, Nodes
from eliza_messaging.messaging.presence import Presence
from eliza_messaging.messaging.replies import ReplyWatchers
from tests.support.recording import RecordingFanout
from tests.support.redis_env import REDIS_TEST_URL, redis_prefix

ROOM, SERVER, AGENT, TRIGGER, REPLY = "room-1", "server-1", "agent-1", "trigger-1", "reply-1"


@pytest.fixture
async def redis_env() -> AsyncIterator[tuple[str, Redis, Callable[[], Any]]]:
    async with redis_prefix() as prefix:
        raw = Redis.from_url(REDIS_TEST_URL)
        started: list[RedisNodeRecords] = []

        async def node(forgotten: Callable[[], None] = lambda: None) -> RedisNodeRecords:
            records = RedisNodeRecords(REDIS_TEST_URL, prefix, ttl_s=1.0, refresh_s=0.2)
            await records.start(forgotten)
            started.append(records)
            return records

        yield prefix, raw, node
        for records in started:
            await records.close()
        await raw.aclose()


async def dead_node(raw: Redis, prefix: str, node_id: str = "dead-node") -> str:
    """What a killed node leaves: listed, with records, without a live key."""
    await raw.sadd(f"{prefix}:nodes", node_id)
    await raw.hset(f"{prefix}:node:{node_id}:presence", "sid-1", orjson.dumps({"rooms": {ROOM: "ann"}}))
    reply = {"agent": AGENT, "channel": ROOM, "server": SERVER, "trigger": TRIGGER, "streamed": True}
    await raw.hset(f"{prefix}:node:{node_id}:replies", REPLY, orjson.dumps(reply))
    return node_id


async def until(check: Callable[[], Any], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)


async def test_a_dead_node_is_claimed_by_exactly_one_live_node_and_a_live_one_never(redis_env: Any) -> None:
    prefix, raw, node = redis_env
    live, b, c = await node(), await node(), await node()
    live.record("presence", "sid-9", {"rooms": {ROOM: "bob"}})

    async def written() -> bool:
        return await b.read(live.node_id, "presence") == {"sid-9": {"rooms": {ROOM: "bob"}}}

    await until(written)  # the live node's records are there to be seen
    dead = await dead_node(raw, prefix)
    claims = await asyncio.gather(b.claim_dead(), c.claim_dead(), live.claim_dead())
    assert sorted(n for claimed in claims for n in claimed) == [dead]
    assert await b.claim_dead() == [] and await c.claim_dead() == []  # claimed stays claimed


async def test_a_record_removed_is_gone(redis_env: Any) -> None:
    _, _, node = redis_env
    a, b = await node(), await node()
    a.record("replies", REPLY, {"agent": AGENT})

    async def present() -> bool:
        return REPLY in await b.read(a.node_id, "replies")

    await until(present)
    a.record("replies", REPLY, None)

    async def gone() -> bool:
        return await b.read(a.node_id, "replies") == {}

    await until(gone)


async def test_a_clean_stop_leaves_nothing_to_clean_up(redis_env: Any) -> None:
    prefix, raw, node = redis_env
    a, b = await node(), await node()
    a.record("presence", "sid-1", {"rooms": {ROOM: "ann"}})

    async def written() -> bool:
        return bool(await b.read(a.node_id, "presence"))

    await until(written)
    await a.close()
    assert await b.read(a.node_id, "presence") == {}
    assert not await raw.sismember(f"{prefix}:nodes", a.node_id)
    await dead_node(raw, prefix)  # positive control: a node that did not stop cleanly is found
    assert await b.claim_dead() == ["dead-node"]


async def test_the_reaper_ends_a_dead_nodes_replies_and_its_sockets_leave(redis_env: Any) -> None:
    prefix, raw, _ = redis_env
    dead = await dead_node(raw, prefix)
    records = RedisNodeRecords(REDIS_TEST_URL, prefix, ttl_s=1.0, refresh_s=0.2)
    fanout = RecordingFanout()
    watchers = ReplyWatchers()
    watch = watchers.watch(TRIGGER)
    nodes = Nodes(records, fanout, watchers.notify, list, reap_s=0.05)
    await nodes.start()
    try:

        async def forgotten() -> bool:
            return not await raw.sismember(f"{prefix}:nodes", dead)

        await until(forgotten)
    finally:
        await nodes.close()
    events = fanout.events()
    assert [e for e, _ in events] == [
        "messageStreamError",
        "messageDeleted",
        "controlMessage",
        "messageComplete",
        "userLeft",
    ]
    error, deleted, control, complete, left = (d for _, d in events)
    assert error["messageId"] == REPLY and error["inReplyTo"] == TRIGGER and error["error"] == STOPPED
    assert deleted["messageId"] == REPLY
    assert control["action"] == "enable_input" and control["target"] == AGENT
    assert complete["inReplyTo"] == TRIGGER and complete["agentId"] == AGENT
    assert left["userId"] == "ann" and left["channelId"] == ROOM
    steps = [watch.steps.get_nowait() for _ in range(watch.steps.qsize())]
    assert [s.kind for s in steps] == ["error", "done"] and steps[0].text == STOPPED
    assert await raw.exists(f"{prefix}:node:{dead}:presence", f"{prefix}:node:{dead}:replies") == 0


async def test_a_live_node_taken_for_dead_records_its_state_again(redis_env: Any) -> None:
    """A node that stalled longer than its live key's TTL was reaped while alive: on its next beat it
    finds itself forgotten and records its sockets again, so its real death later is still cleaned up."""
    prefix, _, node = redis_env
    records = RedisNodeRecords(REDIS_TEST_URL, prefix, ttl_s=1.0, refresh_s=0.2)
    presence = Presence()
    presence.connect("sid-1", Caller("ann"))
    nodes = Nodes(records, RecordingFanout(), ReplyWatchers().notify, presence.sockets)
    presence.on_change = nodes.socket_changed
    await nodes.start()
    try:
        presence.join("sid-1", ROOM, "ann")
        other = await node()

        async def recorded() -> bool:
            return await other.read(records.node_id, "presence") == {"sid-1": {"rooms": {ROOM: "ann"}}}

        await until(recorded)
        await other.forget(records.node_id)  # what a reaper does last
        assert await other.read(records.node_id, "presence") == {}
        await until(recorded)
    finally:
        await nodes.close()
