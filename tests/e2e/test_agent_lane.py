"""One agent lane per channel across nodes: real server processes on one PostgreSQL and one Redis.

Whichever node a message is sent to, an agent answers a channel on one node at a time: in order, never
two replies of the channel streaming at once, and a person's newer message supersedes the reply in
progress on the node that holds the channel's lane. When that node dies (``kill -9``) another takes the
lane over and every message is answered once. The agent's model is the OpenAI-compatible fake, slowed
down so replies overlap in time. Without PostgreSQL or Redis the tests skip (fail under CI=true).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from eliza_messaging.queue.partitions import PARTITIONS, partition_of
from tests.agents.test_agents_e2e import agents, character_files
from tests.conftest import new_id
from tests.e2e.helpers import join, nodes, send
from tests.support.fake_openai import FakeOpenAI, RecordedRequest
from tests.support.nodes_env import lanes_settled
from tests.support.redis_env import REDIS_TEST_URL
from tests.support.server import ServerProcess

REPLY = "one two three four five six"  # six pieces, a few tenths of a second apart
TAKEN_OVER_S = 30.0  # a dead holder's lease expires (12 s), the next node's beat takes it; with margin


def respond_always(request: RecordedRequest) -> str:
    """The fake's answers: RESPOND to the should-respond question (asked in groups), else the reply."""
    system = next((m.get("content", "") for m in request.messages if m.get("role") == "system"), "")
    return "RESPOND" if "RESPOND or IGNORE" in str(system) else REPLY


@pytest.fixture
def slow_model() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(mode="slow", chunk_delay=0.15, responder=respond_always) as fake:
        yield fake


def nimbus(fake: FakeOpenAI, tmp_path: Path) -> str:
    settings = {"model_provider": "openai", "OPENAI_BASE_URL": fake.base_url, "max_retries": "0"}
    return character_files(tmp_path, {"name": "Nimbus", "settings": settings})


@asynccontextmanager
async def nimbus_nodes(
    server_factory: Callable[..., ServerProcess], slow_model: FakeOpenAI, tmp_path: Path, count: int
) -> AsyncIterator[tuple[dict[str, str], list[ServerProcess], str]]:
    """``count`` nodes running Nimbus on ``slow_model``, once each holds its share of the agent's lanes:
    their environment, the nodes and Nimbus's id."""
    async with nodes(server_factory, count, {"ELIZA_CHARACTERS": nimbus(slow_model, tmp_path)}) as (env, started):
        agent = agents(started[0].url)["Nimbus"]
        await lanes_settled(env, agent, count)  # the last joined: the partitions it should hold have moved to it
        yield env, started, agent


def replies_run_on(node: ServerProcess, channel: str) -> int:
    """How many replies this node's agents finished in ``channel`` (from its debug log)."""
    return sum(
        1 for line in node.logs().splitlines() if "agents.runtime replied" in line and f"channel={channel}" in line
    )


async def replies_logged(nodes: tuple[ServerProcess, ...], channel: str, expected: int) -> list[int]:
    """Per node, ``replies_run_on`` once their sum reaches ``expected`` (or after 5 s): the log line trails
    the broadcast; a reply too many would still show."""
    for _ in range(50):
        if sum(replies_run_on(n, channel) for n in nodes) >= expected:
            break
        await asyncio.sleep(0.1)
    return [replies_run_on(n, channel) for n in nodes]


def streams_in_turn(client: Any, agent: str) -> list[str]:
    """The replies the client saw streamed, in order, checking that none overlapped another: from its
    first piece to its end (broadcast or stream error) no piece of another reply arrived."""
    order: list[str] = []
    open_reply: str | None = None
    for record in client.seen:
        if record["type"] != "event":
            continue
        event, body = record["event"], record["args"][0]
        if event == "messageStreamChunk":
            if open_reply is None:
                open_reply = body["messageId"]
                order.append(open_reply)
            assert body["messageId"] == open_reply, f"two replies streamed at once: {open_reply}, {body['messageId']}"
        elif (
            (event == "messageBroadcast" and body.get("senderId") == agent) or event == "messageStreamError"
        ) and body.get("id", body.get("messageId")) == open_reply:
            open_reply = None
    return order


async def test_a_channels_messages_sent_through_two_nodes_are_answered_in_turn_on_one_node(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path, slow_model: FakeOpenAI
) -> None:
    async with nimbus_nodes(server_factory, slow_model, tmp_path, 2) as (_, (a, b), agent):
        room, ann, bob = new_id(), new_id(), new_id()
        on_a, on_b = await clients(a.url), await clients(b.url)
        await on_a.connected()
        await on_b.connected()
        await on_a.call("message", join(room, ann, agentId=agent))  # a group: Nimbus asks its model
        await on_b.call("message", join(room, bob))
        sent = []
        for i in range(4):  # not naming Nimbus: queued in its lane, none supersedes another
            client, who = (on_a, ann) if i % 2 == 0 else (on_b, bob)
            sent.append((await client.call("message", send(room, who, f"thought number {i}")))["messageId"])
        for message_id in sent:
            await on_a.event(
                "messageBroadcast",
                where=lambda m, m_id=message_id: m["senderId"] == agent and m["inReplyTo"] == m_id,
                timeout=30,
            )
        await on_a.quiet(1.0)
        answers = [m for m in on_a.events("messageBroadcast") if m["senderId"] == agent]
        assert [m["inReplyTo"] for m in answers] == sent  # in the order sent, each once
        assert streams_in_turn(on_a, agent) == [m["id"] for m in answers]  # one at a time
        assert streams_in_turn(on_b, agent) == [m["id"] for m in answers]
        # the channel's lane is on one node, though half the messages were sent to the other
        assert sorted(await replies_logged((a, b), room, 4)) == [0, 4]


async def test_a_newer_message_sent_to_either_node_supersedes_the_reply_in_progress(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path, slow_model: FakeOpenAI
) -> None:
    """Each message goes to the other node than the one before, so one of the two supersedes crosses nodes."""
    async with nimbus_nodes(server_factory, slow_model, tmp_path, 2) as (_, (a, b), agent):
        room, me = new_id(), new_id()
        on_a, on_b = await clients(a.url), await clients(b.url)
        dm = {"isDm": True, "targetUserId": agent}
        for client in (on_a, on_b):  # the same person on two devices
            await client.connected()
            await client.call("message", join(room, me, metadata=dm))
        sent: list[str] = []
        streaming: list[str] = []
        for client, text in ((on_a, "first thing"), (on_b, "no, this"), (on_a, "actually, that")):
            sent.append((await client.call("message", send(room, me, text, metadata={"isDm": True})))["messageId"])
            if len(sent) < 3:  # the reply to it is streaming when the next one comes
                chunk = await on_a.event(
                    "messageStreamChunk", where=lambda c, known=tuple(streaming): c["messageId"] not in known
                )
                streaming.append(chunk["messageId"])
        final = await on_a.event(
            "messageBroadcast", where=lambda m: m["senderId"] == agent and m["inReplyTo"] == sent[2], timeout=30
        )
        for message_id in sent:
            await on_b.event("messageComplete", where=lambda c, m_id=message_id: c["inReplyTo"] == m_id)
        await on_a.quiet(1.0)
        errors = on_a.events("messageStreamError")
        assert [(e["inReplyTo"], e["superseded"]) for e in errors] == [(sent[0], True), (sent[1], True)]
        assert [m["inReplyTo"] for m in on_a.events("messageBroadcast") if m["senderId"] == agent] == [sent[2]]
        assert streams_in_turn(on_b, agent) == [errors[0]["messageId"], errors[1]["messageId"], final["id"]]
        controls = [c["action"] for c in on_b.events("controlMessage")]
        assert controls == ["disable_input", "enable_input"] * 3  # never left disabled
        assert sorted(await replies_logged((a, b), room, 1)) == [0, 1]


async def test_when_the_lane_holder_dies_another_node_takes_the_lane_and_every_message_is_answered_once(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path, slow_model: FakeOpenAI
) -> None:
    async with nimbus_nodes(server_factory, slow_model, tmp_path, 3) as (env, started, agent):
        room, me = new_id(), new_id()
        dm = {"isDm": True, "targetUserId": agent}
        watchers = []
        for node in started:  # the same person on three devices, one per node
            client = await clients(node.url)
            await client.connected()
            await client.call("message", join(room, me, metadata=dm))
            watchers.append(client)
        slow_model.configure(chunk_delay=1.0)  # the first reply is still streaming when its node dies
        first = (await watchers[0].call("message", send(room, me, "are you there?", metadata={"isDm": True})))[
            "messageId"
        ]
        await watchers[0].event("messageStreamChunk", timeout=20)
        holder = await lane_holder(env, agent, room, started)
        survivors = [(n, w) for n, w in zip(started, watchers, strict=True) if n is not holder]
        slow_model.configure(chunk_delay=0.15)
        holder.kill()
        node, watcher = survivors[0]
        withdrawn = await watcher.event("messageStreamError", timeout=TAKEN_OVER_S)
        assert withdrawn["inReplyTo"] == first and "stopped" in withdrawn["error"]
        # the lane moves: the message left unfinished is answered there, once, then the next one
        answer = await watcher.event(
            "messageBroadcast",
            where=lambda m: m["senderId"] == agent and m["inReplyTo"] == first,
            timeout=TAKEN_OVER_S,
        )
        assert answer["text"] == REPLY
        later = (await watcher.call("message", send(room, me, "and now?", metadata={"isDm": True})))["messageId"]
        await watcher.event(
            "messageBroadcast", where=lambda m: m["senderId"] == agent and m["inReplyTo"] == later, timeout=20
        )
        await watcher.quiet(2.0)
        for _, w in survivors:
            replies = [m["inReplyTo"] for m in w.events("messageBroadcast") if m["senderId"] == agent]
            assert replies == [first, later]
        stored = httpx.get(f"{node.url}/api/messaging/channels/{room}/messages").json()["data"]["messages"]
        answered = sorted(m["inReplyToRootMessageId"] for m in stored if m["authorId"] == agent)
        assert answered == sorted([first, later])  # each once in history
        new_holder = await lane_holder(env, agent, room, [n for n, _ in survivors])
        assert await replies_logged((new_holder,), room, 2) == [2]


async def lane_holder(env: dict[str, str], agent: str, room: str, nodes: list[ServerProcess]) -> ServerProcess:
    """The node whose queue consumer holds the lease of the room's partition (its name holds the pid)."""
    key = f"{env['ELIZA_REDIS_PREFIX']}:messages:{partition_of(room, PARTITIONS)}:lease:agent:{agent}"
    redis = Redis.from_url(REDIS_TEST_URL)
    try:
        for _ in range(100):
            holder = await redis.get(key)
            if holder:
                pid = int(re.split(r":", holder.decode())[-2])
                return next(n for n in nodes if n.pid == pid)
            await asyncio.sleep(0.1)
    finally:
        await redis.aclose()
    raise AssertionError(f"nobody holds the lane of {room}")
