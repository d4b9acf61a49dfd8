"""A node killed with ``kill -9`` among several on PostgreSQL and Redis: the others clean up after it.

Its sockets leave their rooms (``userLeft``) and a reply its agent was streaming is withdrawn
(``messageStreamError``, ``enable_input``, ``messageComplete``), so no client on a live node waits
on a node that is gone. Each test gets a fresh PostgreSQL schema and Redis key prefix; without either
server the tests skip (fail under CI=true).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.agents.test_agents_e2e import agents, character_files
from tests.conftest import new_id
from tests.e2e.helpers import join, joined_client, send, two_nodes
from tests.support.fake_openai import FakeOpenAI
from tests.support.nodes_env import shared_nodes_env
from tests.support.server import ServerProcess

CLEANED_UP_S = 15.0  # the promise: a dead node's leftovers are cleaned up within this


def stuck_character(fake: FakeOpenAI) -> dict[str, Any]:
    """An agent whose model is ``fake`` and who waits for it as long as the test needs."""
    settings = {"model_provider": "openai", "OPENAI_BASE_URL": fake.base_url, "max_retries": "0"}
    return {"name": "Stuck", "settings": {**settings, "timeout": "120", "stall_timeout": "120"}}


async def test_a_dead_nodes_sockets_leave_their_rooms(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    async with two_nodes(server_factory) as (a, b):
        room, ann, bob = new_id(), new_id(), new_id()
        on_b = await joined_client(clients, b.url, room, bob)
        on_a = await joined_client(clients, a.url, room, ann)
        assert (await on_b.event("userJoined"))["userId"] == ann
        # positive control: A's client reaches B's through the same rooms
        ack = await on_a.call("message", send(room, ann, "before the crash"))
        await on_b.event("messageBroadcast", where=lambda m: m["id"] == ack["messageId"])

        a.kill()
        left = await on_b.event("userLeft", timeout=CLEANED_UP_S)
        assert left["userId"] == ann and left["channelId"] == room
        await on_b.quiet(1.0)
        assert len(on_b.events("userLeft")) == 1  # once, though B and any other node both reap


async def test_a_dead_nodes_reply_in_flight_is_withdrawn_by_another(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> None:
    with FakeOpenAI(mode="hang") as fake:
        stuck = stuck_character(fake)
        async with shared_nodes_env() as env:
            # only A has Stuck, so A takes the message and nobody answers it again afterwards
            a = server_factory(
                {**env, "ELIZA_CHARACTERS": character_files(tmp_path, stuck), "ELIZA_AGENT_TIMEOUT": "120"}
            )
            b = server_factory(env)
            try:
                agent = agents(a.url)["Stuck"]
                room, me = new_id(), new_id()
                user = await clients(b.url)
                await user.connected()
                await user.call("message", join(room, me, metadata={"isDm": True, "targetUserId": agent}))
                ack = await user.call("message", send(room, me, "are you there?", metadata={"isDm": True}))
                trigger = ack["messageId"]
                disabled = await user.event(
                    "controlMessage", where=lambda c: c["action"] == "disable_input", timeout=20
                )
                assert disabled["target"] == agent

                a.kill()
                error = await user.event("messageStreamError", timeout=CLEANED_UP_S)
                assert error["agentId"] == agent and error["inReplyTo"] == trigger
                assert "stopped" in error["error"]
                enabled = await user.event("controlMessage", where=lambda c: c["action"] == "enable_input", timeout=5)
                assert enabled["target"] == agent
                complete = await user.event("messageComplete", timeout=5)
                assert complete["agentId"] == agent and complete["inReplyTo"] == trigger
            finally:
                a.stop()
                b.stop()


async def test_the_withdrawn_trigger_is_answered_once_by_a_live_node_that_has_the_agent(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> None:
    """The node taking over the channel's lane (when the dead node's lease expires) answers the trigger."""
    with FakeOpenAI(mode="hang", reply="I am here now.") as fake:
        stuck = stuck_character(fake)
        async with shared_nodes_env() as env:
            env = {**env, "ELIZA_CHARACTERS": character_files(tmp_path, stuck), "ELIZA_AGENT_TIMEOUT": "120"}
            a = server_factory(env)  # alone at first, so A takes the message
            try:
                agent = agents(a.url)["Stuck"]
                room, me = new_id(), new_id()
                first = await clients(a.url)
                await first.connected()
                await first.call("message", join(room, me, metadata={"isDm": True, "targetUserId": agent}))
                ack = await first.call("message", send(room, me, "are you there?", metadata={"isDm": True}))
                trigger = ack["messageId"]
                await first.event("controlMessage", where=lambda c: c["action"] == "disable_input", timeout=20)
                b = server_factory(env)
                second = await clients(b.url)  # the same user on another device, on B
                await second.connected()
                await second.call("message", join(room, me))

                fake.mode = "stream"  # A's request hangs on; the takeover's will be answered
                a.kill()
                error = await second.event("messageStreamError", timeout=CLEANED_UP_S)
                assert error["inReplyTo"] == trigger
                reply = await second.event("messageBroadcast", where=lambda m: m["senderId"] == agent, timeout=60)
                assert reply["inReplyTo"] == trigger and reply["text"] == "I am here now."
                for _ in ("withdrawn", "answered"):
                    await second.event("messageComplete", where=lambda c: c["inReplyTo"] == trigger, timeout=10)
                await second.quiet(3.0)
                from_agent = [m for m in second.events("messageBroadcast") if m["senderId"] == agent]
                assert [m["inReplyTo"] for m in from_agent] == [trigger]  # answered once
                assert len([c for c in second.events("messageComplete") if c["inReplyTo"] == trigger]) == 2
                assert len(fake.chat_requests) == 2  # A's, which hung, and B's
            finally:
                a.stop()
