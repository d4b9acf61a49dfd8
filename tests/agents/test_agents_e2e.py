"""Agents that answer, seen from real socket.io-client 4.x clients against a real server process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ServerProcess

AGENT_EVENTS = (
    "controlMessage",
    "message",
    "messageStreamChunk",
    "messageBroadcast",
    "messageStreamError",
    "messageComplete",
)


def agents(url: str) -> dict[str, str]:
    body = httpx.get(f"{url}/api/agents").json()
    return {a["name"]: a["id"] for a in body["data"]["agents"]}


def character_files(tmp_path: Path, *characters: dict[str, Any]) -> str:
    paths = []
    for i, character in enumerate(characters):
        path = tmp_path / f"character-{i}.json"
        path.write_text(json.dumps(character))
        paths.append(str(path))
    return ",".join(paths)


def timeline(client: Any, reply_to: str | None = None) -> list[tuple[str, Any]]:
    """The agent-related events the client saw, in order."""
    return [(r["event"], r["args"][0]) for r in client.seen if r["type"] == "event" and r["event"] in AGENT_EVENTS]


async def dm(clients: Any, url: str, agent_id: str, **options: Any) -> tuple[Any, str, str]:
    client = await clients(url, **options)
    await client.connected()
    room, me = new_id(), new_id()
    await client.call("message", join(room, me, metadata={"isDm": True, "targetUserId": agent_id}))
    return client, room, me


async def test_a_dm_to_eliza_streams_then_broadcasts_then_completes(server: ServerProcess, clients: Any) -> None:
    eliza = agents(server.url)["Eliza"]
    client, room, me = await dm(clients, server.url, eliza)
    ack = await client.call("message", send(room, me, "I am unhappy with my work", metadata={"isDm": True}))
    await client.event("messageComplete")
    events = timeline(client)
    names = [e for e, _ in events]
    # the user's own broadcast comes first, then the agent's work in the documented order
    assert names[0] == "messageBroadcast" and events[0][1]["id"] == ack["messageId"]
    agent_part = events[1:]
    assert agent_part[0] == (
        "controlMessage",
        {"action": "disable_input", "channelId": room, "roomId": room, "target": eliza},
    )
    thinking = agent_part[1]
    assert thinking[0] == "message" and thinking[1]["type"] == 5
    reply_id = thinking[1]["payload"]["messageId"]
    assert thinking[1]["payload"]["agentId"] == eliza and thinking[1]["payload"]["roomId"] == room
    chunks = [p for e, p in agent_part if e == "messageStreamChunk"]
    assert len(chunks) >= 2
    assert [c["index"] for c in chunks] == list(range(len(chunks)))
    assert {c["messageId"] for c in chunks} == {reply_id}
    broadcast_at = names.index("messageBroadcast", 1)
    assert all(names.index("messageStreamChunk") < broadcast_at for _ in chunks)
    final = events[broadcast_at][1]
    assert final["id"] == final["messageId"] == reply_id
    assert final["text"] == "".join(c["chunk"] for c in chunks).strip()
    assert final["senderName"] == "Eliza" and final["senderId"] == eliza
    assert final["inReplyTo"] == ack["messageId"]
    assert final["roomId"] == final["channelId"] == room
    assert final["serverId"] == final["messageServerId"] == "00000000-0000-0000-0000-000000000000"
    assert names[-2:] == ["controlMessage", "messageComplete"]
    assert events[-2][1]["action"] == "enable_input"
    stored = httpx.get(f"{server.url}/api/messaging/channels/{room}/messages").json()["data"]["messages"]
    assert stored[0]["id"] == reply_id and stored[0]["sourceType"] == "agent_response"
    assert stored[0]["inReplyToRootMessageId"] == ack["messageId"]
    assert stored[0]["metadata"]["actions"] == ["REPLY"]


async def test_the_ack_does_not_wait_for_the_agent(server: ServerProcess, clients: Any) -> None:
    eliza = agents(server.url)["Eliza"]
    client, room, me = await dm(clients, server.url, eliza)
    await client.emit("message", send(room, me, "hello there", metadata={"isDm": True}))
    await client.event("messageComplete")
    order = [r["event"] for r in client.seen if r["type"] == "event"]
    assert order.index("messageAck") < order.index("controlMessage")


async def test_the_seeds_room_id_equal_to_the_agent_id_reaches_the_agent(server: ServerProcess, clients: Any) -> None:
    eliza = agents(server.url)["Eliza"]
    client = await clients(server.url)
    await client.connected()
    me = new_id()
    await client.call("message", join(eliza, me))
    await client.call("message", send(eliza, me, "I need some help"))
    reply = await client.event("messageBroadcast", where=lambda m: m["senderId"] == eliza)
    assert reply["roomId"] == eliza and reply["text"]


async def test_in_a_group_eliza_answers_only_when_named_or_replied_to(server: ServerProcess, clients: Any) -> None:
    eliza = agents(server.url)["Eliza"]
    client = await clients(server.url)
    await client.connected()
    room, me = new_id(), new_id()
    await client.call("message", join(room, me, agentId=eliza))  # brings Eliza into the group
    await client.call("message", send(room, me, "the weather is nice today"))
    ignored = await client.event("messageComplete")
    assert ignored["agentId"] == eliza
    assert not any(e == "messageStreamChunk" for e, _ in timeline(client))
    await client.call("message", send(room, me, "Eliza, I dream about flying"))
    answer = await client.event("messageBroadcast", where=lambda m: m["senderId"] == eliza)
    await client.call("message", send(room, me, "why do you ask that?", inReplyTo=answer["id"]))
    again = await client.event("messageBroadcast", where=lambda m: m["senderId"] == eliza and m["id"] != answer["id"])
    assert again["text"]


async def slowpoke_dm(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> tuple[ServerProcess, str, Any, str, str]:
    """A server with one agent that streams a word every 0.3 s, and a client in a DM with it."""
    slow = {"name": "Slowpoke", "settings": {"word_delay": "0.3"}}
    proc = server_factory({"ELIZA_CHARACTERS": character_files(tmp_path, slow)})
    agent = agents(proc.url)["Slowpoke"]
    client, room, me = await dm(clients, proc.url, agent)
    return proc, agent, client, room, me


async def test_a_newer_message_supersedes_a_reply_in_progress(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> None:
    _, agent, client, room, me = await slowpoke_dm(server_factory, clients, tmp_path)
    await client.call(
        "message", send(room, me, "I feel anxious about tomorrow and everything", metadata={"isDm": True})
    )
    first_chunk = await client.event("messageStreamChunk")
    await client.call("message", send(room, me, "actually, never mind", metadata={"isDm": True}))
    superseded = await client.event("messageStreamError")
    assert superseded["messageId"] == first_chunk["messageId"] and superseded["superseded"] is True
    assert superseded["partialText"].startswith(first_chunk["chunk"])
    final = await client.event("messageBroadcast", where=lambda m: m["senderId"] == agent, timeout=20)
    assert final["id"] != first_chunk["messageId"]
    await client.event("messageComplete", where=lambda c: True)
    await client.event("messageComplete", timeout=20)
    controls = [p["action"] for e, p in timeline(client) if e == "controlMessage"]
    assert controls == ["disable_input", "enable_input", "disable_input", "enable_input"]  # never left disabled


async def test_messages_superseding_in_a_row_each_get_one_outcome_and_input_ends_enabled(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> None:
    proc, agent, client, room, me = await slowpoke_dm(server_factory, clients, tmp_path)
    texts = ["I feel anxious about tomorrow and everything", "no wait", "actually, never mind"]
    first = await client.call("message", send(room, me, texts[0], metadata={"isDm": True}))
    await client.event("messageStreamChunk")
    later = [await client.call("message", send(room, me, t, metadata={"isDm": True})) for t in texts[1:]]
    sent = [first["messageId"], *(a["messageId"] for a in later)]
    await client.event(
        "messageBroadcast", where=lambda m: m["senderId"] == agent and m["inReplyTo"] == sent[2], timeout=30
    )
    for message_id in sent:
        await client.event("messageComplete", where=lambda c, m=message_id: c["inReplyTo"] == m, timeout=10)
    await client.quiet(0.5)
    completes = [p["inReplyTo"] for e, p in timeline(client) if e == "messageComplete"]
    assert sorted(completes) == sorted(sent)  # each message its outcome, once
    controls = [p["action"] for e, p in timeline(client) if e == "controlMessage"]
    assert controls == ["disable_input", "enable_input"] * (len(controls) // 2) and controls  # never left disabled
    errors = client.events("messageStreamError")
    assert errors and all(e["superseded"] is True for e in errors) and errors[0]["inReplyTo"] == sent[0]
    stored = httpx.get(f"{proc.url}/api/messaging/channels/{room}/messages").json()["data"]["messages"]
    replied_to = {m["inReplyToRootMessageId"] for m in stored if m["authorId"] == agent}
    assert sent[0] not in replied_to and sent[2] in replied_to  # the superseded reply is not in history


async def test_two_agents_in_one_channel_stop_answering_each_other(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> None:
    proc = server_factory({"ELIZA_CHARACTERS": character_files(tmp_path, {"name": "Ada"}, {"name": "Bo"})})
    ids = agents(proc.url)
    client = await clients(proc.url)
    await client.connected()
    room, me = new_id(), new_id()
    await client.call("message", join(room, me, agentId=ids["Ada"], metadata={"isDm": True}))
    await client.call("message", join(room, me, agentId=ids["Bo"], metadata={"isDm": True}))
    asked = await client.call("message", send(room, me, "Hello both of you, I feel tired", metadata={"isDm": True}))
    for _ in range(4):
        await client.event("messageBroadcast", where=lambda m: m["senderId"] in ids.values(), timeout=15)
    await client.quiet(2.0)
    replies = [m for m in client.events("messageBroadcast") if m["senderId"] in ids.values()]
    assert len(replies) == 4  # each answers the person, then each answers the other once, then silence
    assert sorted(m["metadata"]["replyDepth"] for m in replies) == [1, 1, 2, 2]
    # positive control: both still answer the person. Each agent's channel lane works in order, so a fifth
    # reply in the first exchange would have come before its answer to this.
    again = await client.call("message", send(room, me, "And how are you both today?", metadata={"isDm": True}))
    answered: set[str] = set()
    for _ in range(2):
        reply = await client.event(
            "messageBroadcast",
            where=lambda m: m["senderId"] in ids.values() and m["inReplyTo"] == again["messageId"],
            timeout=15,
        )
        answered.add(reply["senderId"])
    assert answered == set(ids.values())
    first_exchange = {asked["messageId"], *(m["id"] for m in replies)}
    from_agents = [m for m in client.events("messageBroadcast") if m["senderId"] in ids.values()]
    assert [m for m in from_agents if m["inReplyTo"] in first_exchange] == replies


async def test_many_channels_are_answered_concurrently(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> None:
    proc = server_factory(
        {"ELIZA_CHARACTERS": character_files(tmp_path, {"name": "Eliza", "settings": {"word_delay": "0.1"}})}
    )
    eliza = agents(proc.url)["Eliza"]
    client = await clients(proc.url)
    await client.connected()
    me, rooms = new_id(), [new_id() for _ in range(3)]
    for room in rooms:
        await client.call("message", join(room, me, metadata={"isDm": True, "targetUserId": eliza}))
    for room in rooms:
        await client.emit("message", send(room, me, "I remember my childhood home", metadata={"isDm": True}))
    for _ in rooms:
        await client.event("messageComplete", timeout=20)
    names_rooms = [
        (e, p["channelId"] if "channelId" in p else p["payload"]["channelId"])
        for e, p in timeline(client)
        if e in ("messageStreamChunk", "messageComplete")
    ]
    first_complete = next(i for i, (e, _) in enumerate(names_rooms) if e == "messageComplete")
    started_before_first_done = {r for e, r in names_rooms[:first_complete] if e == "messageStreamChunk"}
    assert started_before_first_done == set(rooms)  # all three were streaming at once


async def test_an_openai_compatible_model_streams_the_reply(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> None:
    with FakeOpenAI(reply="Bonjour from the hosted model, friend.") as fake:
        character = {
            "name": "Remote",
            "system": "You are Remote.",
            "bio": ["lives far away"],
            "settings": {
                "model_provider": "openai",
                "OPENAI_BASE_URL": fake.base_url,
                "OPENAI_API_KEY": "sk-test",
                "max_retries": "0",
            },
        }
        proc = server_factory({"ELIZA_CHARACTERS": character_files(tmp_path, character)})
        agent = agents(proc.url)["Remote"]
        client, room, me = await dm(clients, proc.url, agent)
        await client.call("message", send(room, me, "hi remote", metadata={"isDm": True}))
        reply = await client.event("messageBroadcast", where=lambda m: m["senderId"] == agent)
        assert reply["text"] == "Bonjour from the hosted model, friend."
        chunks = [p["chunk"] for e, p in timeline(client) if e == "messageStreamChunk"]
        assert len(chunks) > 1 and "".join(chunks).strip() == reply["text"]
        sent = fake.chat_requests[-1].messages
        assert sent[0]["role"] == "system" and "You are Remote." in sent[0]["content"]
        assert "lives far away" in sent[0]["content"]
        assert sent[-1] == {"role": "user", "content": "hi remote", "name": "Tester"}


@pytest.mark.parametrize("mode", ["error", "drop", "hang"])
async def test_a_failing_model_ends_with_a_stream_error_and_re_enabled_input(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path, mode: str
) -> None:
    with FakeOpenAI(reply="one two three four five six", mode=mode, fail_after=2) as fake:  # type: ignore[arg-type]
        character = {
            "name": "Flaky",
            "settings": {
                "model_provider": "openai",
                "OPENAI_BASE_URL": fake.base_url,
                "max_retries": "0",
                "timeout": "2",
                "stall_timeout": "1",
            },
        }
        proc = server_factory({"ELIZA_CHARACTERS": character_files(tmp_path, character), "ELIZA_AGENT_TIMEOUT": "3"})
        agent = agents(proc.url)["Flaky"]
        client, room, me = await dm(clients, proc.url, agent)
        await client.call("message", send(room, me, "are you there?", metadata={"isDm": True}))
        error = await client.event("messageStreamError", timeout=15)
        assert error["agentId"] == agent and error["channelId"] == room and error["error"]
        if mode == "drop":
            assert error["partialText"].split() == ["one", "two"]
            # the streamed bubble is withdrawn for clients that ignore stream errors
            gone = await client.event("messageDeleted")
            assert gone == {"messageId": error["messageId"], "channelId": room, "roomId": room, "reason": "failed"}
        await client.event("messageComplete", timeout=5)
        names = [e for e, _ in timeline(client)]
        assert names[-3:] == ["messageStreamError", "controlMessage", "messageComplete"]
        assert timeline(client)[-2][1]["action"] == "enable_input"
        assert not any(m["senderId"] == agent for m in client.events("messageBroadcast"))


def test_agents_are_listed_and_registered_on_the_default_server(server: ServerProcess) -> None:
    listed = httpx.get(f"{server.url}/api/agents").json()["data"]["agents"]
    assert [(a["name"], a["status"]) for a in listed] == [("Eliza", "active")]
    eliza = listed[0]["id"]
    assert httpx.get(f"{server.url}/api/agents/{eliza}").json()["data"]["name"] == "Eliza"
    default = "00000000-0000-0000-0000-000000000000"
    on_server = httpx.get(f"{server.url}/api/messaging/message-servers/{default}/agents").json()["data"]["agents"]
    assert eliza in on_server
    missing = httpx.get(f"{server.url}/api/agents/{new_id()}")
    assert missing.status_code == 404 and "GET /api/agents lists them" in missing.json()["error"]["message"]


async def test_the_same_character_keeps_its_id_across_restarts(
    server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    proc = server_factory({"ELIZA_CHARACTERS": character_files(tmp_path, {"name": "Ada"})})
    before = agents(proc.url)
    proc.restart()
    assert agents(proc.url) == before
