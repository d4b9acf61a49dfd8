"""Two real server processes on one PostgreSQL and one Redis, as two nodes behind a load balancer.

Clients connect to either node: room events reach both, each message is stored once, and Eliza
(running on both nodes) answers each message once, whichever node takes it; a REST caller
waiting on one node gets the reply even when the agent ran on the other. Each test gets a fresh
PostgreSQL schema and Redis key prefix; without either server the tests skip (fail under CI=true).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.agents.test_agents_e2e import agents
from tests.conftest import new_id
from tests.e2e.helpers import join, joined_client, send, two_nodes
from tests.e2e.test_memory import history
from tests.support.nodes_env import lanes_settled
from tests.support.server import ServerProcess

SESSIONS = "/api/messaging/sessions"
QUIET_S = 1.5  # after the reply: long enough for a second node's duplicate to show up, if there were one


def replies_run_on(node: ServerProcess, channel: str) -> int:
    """How many replies this node's agents produced in ``channel`` (from its debug log)."""
    return sum(
        1 for line in node.logs().splitlines() if "agents.runtime replied" in line and f"channel={channel}" in line
    )


async def replies_logged(nodes: tuple[ServerProcess, ...], channel: str, expected: int) -> list[int]:
    """Per node, the replies logged in ``channel`` once their sum reaches ``expected`` (or after 5 s).

    A reply reaches its room and REST waiters before its agent logs "replied", so the last line may
    trail the answer by a moment; a duplicate would push the sum past ``expected`` and is still seen."""
    counts = [replies_run_on(node, channel) for node in nodes]
    for _ in range(50):
        if sum(counts) >= expected:
            break
        await asyncio.sleep(0.1)
        counts = [replies_run_on(node, channel) for node in nodes]
    return counts


async def test_rooms_span_both_nodes(server_factory: Callable[..., ServerProcess], clients: Any) -> None:
    async with two_nodes(server_factory) as (a, b):
        room, ann, bob = new_id(), new_id(), new_id()
        on_b = await joined_client(clients, b.url, room, bob)
        on_a = await joined_client(clients, a.url, room, ann)
        assert (await on_b.event("userJoined"))["userId"] == ann

        await on_a.emit("typing", {"roomId": room, "userId": ann, "isTyping": True})
        typing = await on_b.event("userTyping")
        assert typing["userId"] == ann and typing["isTyping"] is True

        sent = send(room, ann, "hello from node A")
        ack = await on_a.call("message", sent)
        got = await on_b.event("messageBroadcast")
        assert got["id"] == ack["messageId"] and got["text"] == "hello from node A"
        back = await on_b.call("message", send(room, bob, "and back from node B"))
        assert (await on_a.event("messageBroadcast", where=lambda m: m["senderId"] == bob))["id"] == back["messageId"]

        await on_a.quiet(0.5)
        # positive controls, each through the same path as what must not have come (so sent after it):
        # B's typing reaches A over Redis, and A's next message reaches B over Redis and A itself
        await on_b.emit("typing", {"roomId": room, "userId": bob, "isTyping": True})
        await on_a.event("userTyping", where=lambda t: t["userId"] == bob)
        last = await on_a.call("message", send(room, ann, "last from node A"))
        await on_b.event("messageBroadcast", where=lambda m: m["id"] == last["messageId"])
        await on_a.event("messageBroadcast", where=lambda m: m["id"] == last["messageId"])
        # each socket hears each message once: the sender only its own copy (skip_sid holds across nodes)
        expected = [ack["messageId"], back["messageId"], last["messageId"]]
        for client in (on_a, on_b):
            assert [m["id"] for m in client.events("messageBroadcast")] == expected
        assert on_a.events("messageBroadcast")[0]["clientMessageId"] == sent["payload"]["messageId"]
        assert [t["userId"] for t in on_a.events("userTyping")] == [bob]  # never its own
        assert [t["userId"] for t in on_b.events("userTyping")] == [ann]
        for node in (a, b):  # one store: each message once, whichever node is asked
            assert [m["id"] for m in history(node.url, room)] == expected[::-1]


async def test_a_dm_to_eliza_is_answered_once_whichever_node_runs_her(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    async with two_nodes(server_factory) as (a, b):
        eliza = agents(b.url)["Eliza"]
        assert agents(a.url)["Eliza"] == eliza
        room, me = new_id(), new_id()
        user = await clients(b.url)
        await user.connected()
        await user.call("message", join(room, me, metadata={"isDm": True, "targetUserId": eliza}))
        watcher = await clients(a.url)  # a second device of the same user, on the other node
        await watcher.connected()
        await watcher.call("message", join(room, me))

        asked = []
        for text in ("I am unhappy with my work", "My mother does not listen to me", "I dreamt about a ship"):
            ack = await user.call("message", send(room, me, text, metadata={"isDm": True}))
            asked.append(ack["messageId"])
            reply = await user.event("messageBroadcast", where=lambda m: m["senderId"] == eliza, timeout=20)
            assert reply["inReplyTo"] == ack["messageId"] and reply["text"]
            await user.event("messageComplete", timeout=20)
        await user.quiet(QUIET_S)
        # positive control: one more question after the quiet window is answered, on both devices; a
        # duplicate answer to an earlier one (from the other node) would be counted below
        ack = await user.call("message", send(room, me, "I keep thinking about the sea", metadata={"isDm": True}))
        asked.append(ack["messageId"])
        for client in (user, watcher):
            await client.event(
                "messageBroadcast", where=lambda m: m["senderId"] == eliza and m["inReplyTo"] == asked[-1], timeout=20
            )
        await user.event("messageComplete", timeout=20)
        for _ in asked:
            await watcher.event("messageComplete", timeout=20)

        for client in (user, watcher):
            from_eliza = [m for m in client.events("messageBroadcast") if m["senderId"] == eliza]
            assert [m["inReplyTo"] for m in from_eliza] == asked  # each answered once, in order
            assert len(client.events("messageComplete")) == len(asked)
        stored = history(a.url, room)
        assert sorted(m["inReplyToRootMessageId"] for m in stored if m["authorId"] == eliza) == sorted(asked)
        assert len(stored) == 2 * len(asked)
        assert sum(await replies_logged((a, b), room, len(asked))) == len(asked)


async def test_a_sessions_http_caller_on_node_a_gets_replies_made_on_either_node(
    server_factory: Callable[..., ServerProcess],
) -> None:
    async with two_nodes(server_factory) as (a, b):
        eliza = agents(a.url)["Eliza"]
        await lanes_settled(b.env, eliza, 2)  # B joined: the channels it should answer have moved to it
        user = new_id()
        tried: list[tuple[int, int]] = []
        async with httpx.AsyncClient(base_url=a.url, timeout=30) as http:
            # A channel's agent lane is on one node (the holder of its partition), so each session is
            # answered on one node; new sessions are new channels, and some have their lane on B.
            for _ in range(16):
                session = (await http.post(SESSIONS, json={"agentId": eliza, "userId": user})).json()
                channel = session["channelId"]
                for day in range(2):
                    sent = await http.post(
                        f"{SESSIONS}/{session['sessionId']}/messages",
                        json={"content": f"I feel tired, day {day}", "transport": "http"},
                    )
                    assert sent.status_code == 201, sent.text
                    body = sent.json()
                    assert body["agentResponse"]["agentId"] == eliza and body["agentResponse"]["text"].strip()
                on_a, on_b = await replies_logged((a, b), channel, 2)
                tried.append((on_a, on_b))
                assert sorted((on_a, on_b)) == [0, 2], f"one session's replies ran on both nodes: {tried}"
                if on_b:
                    break
        assert tried[-1] == (0, 2), f"node B never ran the agent for a session posted to A: {tried}"
        messages = httpx.get(f"{b.url}{SESSIONS}/{session['sessionId']}/messages", params={"limit": 50}).json()
        assert len(messages["messages"]) == 4


def test_an_unreachable_redis_stops_the_start_with_a_clear_reason(
    server_factory: Callable[..., ServerProcess],
) -> None:
    with pytest.raises(RuntimeError, match=r"Could not connect to Redis \(REDIS_URL\)"):
        server_factory({"REDIS_URL": "redis://127.0.0.1:1/0"})
