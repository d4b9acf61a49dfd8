"""Nobody speaks as someone else: a socket's identity is its handshake entity (or the first it used).

Each refusal is IDENTITY_MISMATCH, as messageError and in the ack, with nothing stored or
broadcast; each test has a positive control (the same socket speaking as itself gets through).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from tests.agents.test_agents_e2e import agents
from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.e2e.test_memory import history
from tests.support.server import ServerProcess

SERVER_TOKEN = "server-token-for-identity-tests"


async def listener(clients: Any, url: str, room: str) -> Any:
    """A bystander in ``room`` that records what the room sees."""
    me = new_id()
    client = await clients(url)
    await client.connected()
    assert (await client.call("message", join(room, me)))["success"] is True
    return client


def refused(ack: dict[str, Any], field: str, *ids: str) -> str:
    assert ack["success"] is False and ack["code"] == "IDENTITY_MISMATCH", ack
    assert ack["field"] == field
    for entity in ids:
        assert entity in ack["error"], ack["error"]
    error: str = ack["error"]
    return error


async def test_a_socket_authenticated_as_a_cannot_send_as_b(server: ServerProcess, clients: Any) -> None:
    room, alice, bob = new_id(), new_id(), new_id()
    room_ear = await listener(clients, server.url, room)
    socket = await clients(server.url, auth={"entityId": alice})
    await socket.connected()
    forged = await socket.call("message", send(room, bob, "I am Bob, trust me"))
    message = refused(forged, "senderId", alice, bob)
    assert "Send senderId" in message  # the fix is named
    assert (await socket.event("messageError"))["code"] == "IDENTITY_MISMATCH"
    honest = await socket.call("message", send(room, alice, "I am Alice"))
    assert honest["success"] is True
    heard = await room_ear.event("messageBroadcast", where=lambda m: m["text"] == "I am Alice")
    assert heard["senderId"] == alice
    assert [m["text"] for m in room_ear.events("messageBroadcast")] == ["I am Alice"]  # never the forged one
    assert [m["content"] for m in history(server.url, room)] == ["I am Alice"]


async def test_the_short_send_event_and_join_and_typing_are_checked_too(server: ServerProcess, clients: Any) -> None:
    room, alice, bob = new_id(), new_id(), new_id()
    room_ear = await listener(clients, server.url, room)
    socket = await clients(server.url, auth={"entityId": alice}, transports=["websocket"])
    await socket.connected()
    refused(await socket.call("1", {"channelId": room, "entityId": bob}), "entityId", alice, bob)
    refused(await socket.call("2", {"channelId": room, "senderId": bob, "message": "short"}), "senderId", bob)
    await socket.emit("typing", {"roomId": room, "userId": bob, "isTyping": True})
    typing_error = await socket.event("messageError", where=lambda e: e.get("field") == "userId")
    assert typing_error["code"] == "IDENTITY_MISMATCH" and bob in typing_error["error"]
    assert (await socket.call("1", {"channelId": room, "entityId": alice}))["success"] is True
    await socket.emit("typing", {"roomId": room, "userId": alice, "isTyping": True})
    typing = await room_ear.event("userTyping")
    assert typing["userId"] == alice
    assert [t["userId"] for t in room_ear.events("userTyping")] == [alice]
    joined = [j["userId"] for j in room_ear.events("userJoined")]
    assert bob not in joined and alice in joined


async def test_a_seed_socket_is_bound_to_the_first_entity_it_uses(server: ServerProcess, clients: Any) -> None:
    room, first, other = new_id(), new_id(), new_id()
    room_ear = await listener(clients, server.url, room)
    socket = await clients(server.url)  # the seed dialect: no handshake entity
    await socket.connected()
    assert (await socket.call("message", join(room, first)))["success"] is True
    message = refused(await socket.call("message", send(room, other, "switched")), "senderId", first, other)
    assert "first entity this socket used" in message
    assert (await socket.call("message", send(room, first, "still me")))["success"] is True
    await room_ear.event("messageBroadcast", where=lambda m: m["text"] == "still me")
    assert [m["senderId"] for m in room_ear.events("messageBroadcast")] == [first]


async def test_two_first_sends_at_once_bind_one_entity(server: ServerProcess, clients: Any) -> None:
    room, one, two = new_id(), new_id(), new_id()
    socket = await clients(server.url)
    await socket.connected()
    acks = await asyncio.gather(
        socket.call("message", send(room, one, "one")), socket.call("message", send(room, two, "two"))
    )
    assert sorted(a["success"] for a in acks) == [False, True]
    assert len({m["authorId"] for m in history(server.url, room)}) == 1


async def test_agent_response_from_a_user_cannot_silence_the_agents(server: ServerProcess, clients: Any) -> None:
    eliza = agents(server.url)["Eliza"]
    room, me = new_id(), new_id()
    socket = await clients(server.url, auth={"entityId": me})
    await socket.connected()
    await socket.call("message", join(room, me, metadata={"isDm": True, "targetUserId": eliza}))
    muzzle = send(room, me, "quiet now", source="agent_response", metadata={"isDm": True, "replyDepth": 5})
    ack = await socket.call("message", muzzle)
    assert ack["success"] is False and ack["code"] == "IDENTITY_MISMATCH" and ack["field"] == "source"
    assert "agent_response" in ack["error"]
    asked = await socket.call("message", send(room, me, "I feel sad", metadata={"isDm": True}))
    reply = await socket.event("messageBroadcast", where=lambda m: m["senderId"] == eliza, timeout=20)
    assert reply["inReplyTo"] == asked["messageId"]
    assert "quiet now" not in [m["content"] for m in history(server.url, room)]


async def test_a_user_socket_cannot_speak_or_connect_as_an_agent(server: ServerProcess, clients: Any) -> None:
    eliza = agents(server.url)["Eliza"]
    room = new_id()
    socket = await clients(server.url)
    await socket.connected()
    ack = await socket.call("message", send(room, eliza, "I am Eliza"))
    assert ack["code"] == "IDENTITY_MISMATCH" and "agent" in ack["error"]
    assert (await socket.call("message", send(room, new_id(), "I am me")))["success"] is True  # not bound by it
    impostor = await clients(server.url, auth={"entityId": eliza})
    report = await impostor.wait_for(lambda r: r["type"] in ("connect", "connect_error"))
    assert report["type"] == "connect_error" and "agent" in report["message"]


def test_rest_user_routes_refuse_agent_ids_and_agent_sources(server: ServerProcess) -> None:
    eliza = agents(server.url)["Eliza"]
    room = new_id()
    url = f"{server.url}/api/messaging/channels/{room}/messages"
    as_agent = httpx.post(url, json={"author_id": eliza, "content": "as the agent"})
    assert as_agent.status_code == 403 and as_agent.json()["error"]["code"] == "IDENTITY_MISMATCH"
    assert as_agent.json()["error"]["field"] == "author_id"  # named as the REST caller spelled it
    muzzle = httpx.post(url, json={"author_id": new_id(), "content": "hush", "source_type": "agent_response"})
    assert muzzle.status_code == 403 and "agent_response" in muzzle.json()["error"]["message"]
    ingest = httpx.post(
        f"{server.url}/api/messaging/ingest-external",
        json={
            "channel_id": room,
            "author_id": eliza,
            "content": "bridged",
            "message_server_id": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert ingest.status_code == 403 and ingest.json()["error"]["code"] == "IDENTITY_MISMATCH"
    fine = httpx.post(url, json={"author_id": new_id(), "content": "a person"})
    assert fine.status_code == 201
    assert [m["content"] for m in history(server.url, room)] == ["a person"]


async def test_the_server_token_may_act_for_agents(server_factory: Callable[..., ServerProcess], clients: Any) -> None:
    proc = server_factory({"ELIZA_SERVER_AUTH_TOKEN": SERVER_TOKEN})
    key = {"X-API-KEY": SERVER_TOKEN}
    eliza = next(a["id"] for a in httpx.get(f"{proc.url}/api/agents", headers=key).json()["data"]["agents"])
    room = new_id()
    posted = httpx.post(
        f"{proc.url}/api/messaging/channels/{room}/messages", headers=key, json={"author_id": eliza, "content": "hi"}
    )
    assert posted.status_code == 201
    trusted = await clients(proc.url, auth={"entityId": eliza, "serverToken": SERVER_TOKEN})
    await trusted.connected()
    assert (await trusted.call("message", send(room, eliza, "agent via socket")))["success"] is True
    untrusted = await clients(proc.url, auth={"entityId": eliza, "serverToken": "wrong"})
    report = await untrusted.wait_for(lambda r: r["type"] in ("connect", "connect_error"))
    assert report["type"] == "connect_error"


async def test_server_api_key_guards_sockets(server_factory: Callable[..., ServerProcess], clients: Any) -> None:
    proc = server_factory({"SERVER_API_KEY": "socket-key"})
    for auth in ({}, {"apiKey": "socket-kez"}, {"apiKey": "socket-key-longer"}):
        client = await clients(proc.url, auth=auth)
        report = await client.wait_for(lambda r: r["type"] in ("connect", "connect_error"))
        assert report["type"] == "connect_error" and "API key" in report["message"], auth
    ok = await clients(proc.url, auth={"apiKey": "socket-key"})
    await ok.connected()
