"""ElizaOS's memory API (``/api/memory``) on a real server, as the ElizaOS web client's Memories tab
calls it: an agent's memories are the messages of its channels (roomId = the channel id), in
ElizaOS's Memory shape and envelopes; edits and deletes reach the room over Socket.IO, seen by the
official socket.io-client 4.x; access follows the history's rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.agents.test_agents_e2e import agents
from tests.conftest import new_id
from tests.e2e.conftest import Database
from tests.e2e.helpers import join, send
from tests.e2e.test_memory import history
from tests.e2e.test_tokens import SECRET, bearer, token
from tests.support.server import ServerProcess

DEFAULT = "00000000-0000-0000-0000-000000000000"


def memory_api(url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{url}/api/memory{path}", timeout=10, **kwargs)


def listed(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return list(body["data"]["memories"])


async def dm_with(clients: Any, url: str, agent: str, text: str) -> tuple[Any, str, str, dict[str, Any]]:
    """A DM with ``agent``: (the client, the room, the user, the agent's reply broadcast)."""
    client = await clients(url)
    await client.connected()
    room, me = new_id(), new_id()
    await client.call("message", join(room, me, metadata={"isDm": True, "targetUserId": agent}))
    await client.call("message", send(room, me, text, metadata={"isDm": True}))
    reply = await client.event("messageBroadcast", where=lambda m: m["senderId"] == agent, timeout=20)
    await client.event("messageComplete", timeout=20)
    return client, room, me, reply


async def test_the_memories_tab_lists_an_agents_messages_in_elizaos_shape(server: ServerProcess, clients: Any) -> None:
    eliza = agents(server.url)["Eliza"]
    _, room, me, reply = await dm_with(clients, server.url, eliza, "I remember my garden")
    elsewhere, stranger = new_id(), new_id()  # a channel Eliza takes no part in
    other = await clients(server.url)
    await other.connected()
    await other.call("message", join(elsewhere, stranger))
    await other.call("message", send(elsewhere, stranger, "not for Eliza"))

    # exactly as the web client asks (useAgentMemories)
    mine = listed(memory_api(server.url, "GET", f"/{eliza}/memories?tableName=messages&includeEmbedding=false"))
    ours = [m for m in mine if m["roomId"] == room]
    assert [m["id"] for m in ours] == [reply["id"], ours[1]["id"]]  # newest first: the reply, then mine
    assert all(m["roomId"] != elsewhere for m in mine)
    answer, question = ours
    assert question["entityId"] == me and question["agentId"] == eliza and question["channelId"] == room
    assert question["content"] == {"text": "I remember my garden", "source": "test"}
    assert answer["entityId"] == eliza and answer["content"]["text"] == reply["text"]
    assert answer["content"]["source"] == "agent_response" and answer["content"]["inReplyTo"] == question["id"]
    assert answer["worldId"] == DEFAULT and isinstance(answer["createdAt"], int)
    assert answer["createdAt"] >= question["createdAt"]
    assert answer["metadata"]["type"] == "message" and answer["metadata"]["seq"] == 2
    assert "embedding" not in answer
    assert listed(memory_api(server.url, "GET", f"/{eliza}/memories?tableName=facts&includeEmbedding=false")) == []
    for query in (f"channelId={room}", f"roomId={room}"):
        assert listed(memory_api(server.url, "GET", f"/{eliza}/memories?{query}")) == ours
    assert listed(memory_api(server.url, "GET", f"/{eliza}/memories?channelId={elsewhere}")) == []

    # one room, paged as the room route pages (limit, before)
    room_path = f"/{eliza}/rooms/{room}/memories"
    assert listed(memory_api(server.url, "GET", f"{room_path}?limit=1")) == [answer]
    assert listed(memory_api(server.url, "GET", f"{room_path}?before={answer['createdAt']}")) == (
        [question] if question["createdAt"] < answer["createdAt"] else []
    )
    assert listed(memory_api(server.url, "GET", f"{room_path}?tableName=messages&includeEmbedding=false")) == ours


async def test_bad_ids_unknown_agents_and_tables_get_elizaos_errors(server: ServerProcess) -> None:
    eliza = agents(server.url)["Eliza"]
    cases = [
        ("GET", "/not-a-uuid/memories", 400, "INVALID_ID", "agentId"),
        ("GET", f"/{new_id()}/memories", 404, "NOT_FOUND", "agentId"),
        ("GET", f"/{eliza}/memories?channelId=nope", 400, "INVALID_ID", "channelId"),
        ("GET", f"/{eliza}/memories?tableName=drop%20table", 400, "INVALID_PAYLOAD", "tableName"),
        ("GET", f"/{eliza}/rooms/nope/memories", 400, "INVALID_ID", "roomId"),
        ("GET", f"/{eliza}/memories?limit=0", 400, "VALIDATION_ERROR", None),
        ("GET", f"/{eliza}/memories?limit=1001", 400, "VALIDATION_ERROR", None),
        ("GET", f"/{eliza}/rooms/{new_id()}/memories?limit=1001", 400, "VALIDATION_ERROR", None),
        ("PATCH", f"/{eliza}/memories/{new_id()}", 404, "NOT_FOUND", "memoryId"),
        ("DELETE", f"/{eliza}/memories/{new_id()}", 404, "NOT_FOUND", "memoryId"),
        ("DELETE", f"/{eliza}/memories/nope", 400, "INVALID_ID", "memoryId"),
        ("DELETE", f"/{new_id()}/memories", 404, "NOT_FOUND", "agentId"),
    ]
    assert listed(memory_api(server.url, "GET", f"/{eliza}/memories?limit=1000")) is not None  # the bound itself
    for method, path, status, code, field in cases:
        kwargs = {"json": {"content": {"text": "x"}}} if method == "PATCH" else {}
        response = memory_api(server.url, method, path, **kwargs)
        assert response.status_code == status, (path, response.text)
        error = response.json()["error"]
        assert response.json()["success"] is False and error["code"] == code, (path, error)
        assert error.get("field") == field and error["message"], (path, error)


async def test_an_edit_changes_the_message_and_the_room_hears_it(server: ServerProcess, clients: Any) -> None:
    eliza = agents(server.url)["Eliza"]
    client, room, _, reply = await dm_with(clients, server.url, eliza, "my cat is called Tom")
    question = listed(memory_api(server.url, "GET", f"/{eliza}/rooms/{room}/memories"))[1]
    edited_content = {**question["content"], "text": "my cat is called Tim", "thought": "a correction"}
    patched = memory_api(
        server.url,
        "PATCH",
        f"/{eliza}/memories/{question['id']}",
        json={"content": edited_content, "metadata": {"k": 1}},
    )
    assert patched.status_code == 200, patched.text
    data = patched.json()["data"]
    assert data["id"] == question["id"] and data["message"] == "Memory updated successfully"
    assert data["memory"]["content"] == edited_content and data["memory"]["metadata"]["k"] == 1
    heard = await client.event("messageBroadcast", where=lambda m: m["id"] == question["id"] and "updatedAt" in m)
    assert heard["text"] == "my cat is called Tim" and heard["updatedAt"] > question["createdAt"]
    assert heard["thought"] == "a correction" and heard["channelId"] == room
    stored = {m["id"]: m for m in history(server.url, room)}[question["id"]]
    assert stored["content"] == "my cat is called Tim" and stored["seq"] == 1  # stays where it was
    assert listed(memory_api(server.url, "GET", f"/{eliza}/rooms/{room}/memories"))[1] == data["memory"]

    for body, field in [
        ({"content": {**edited_content, "source": "web"}}, "content.source"),
        ({"content": {"text": "x", "mood": "happy"}}, "content.mood"),
        ({"content": {"text": ""}}, "content.text"),
        ({"content": {"text": 5}}, "content.text"),
        ({"content": "just text"}, "content"),
        ({"roomId": new_id()}, "roomId"),
        ({"content": {"text": "x" * 100_001}}, "content.text"),
    ]:
        refused = memory_api(server.url, "PATCH", f"/{eliza}/memories/{question['id']}", json=body)
        assert refused.status_code in (400, 413), refused.text
        assert refused.json()["error"]["field"] == field, refused.text
    assert {m["id"]: m for m in history(server.url, room)}[question["id"]]["content"] == "my cat is called Tim"
    assert reply["id"] in {m["id"] for m in history(server.url, room)}


async def test_deletes_go_through_the_history_and_the_rooms_hear_them(server: ServerProcess, clients: Any) -> None:
    eliza = agents(server.url)["Eliza"]
    first, room, _, reply = await dm_with(clients, server.url, eliza, "hello there")
    deleted = memory_api(server.url, "DELETE", f"/{eliza}/memories/{reply['id']}")
    assert deleted.status_code == 200 and deleted.json() == {
        "success": True,
        "data": {"message": "Memory deleted successfully"},
    }
    assert await first.event("messageDeleted") == {"messageId": reply["id"], "channelId": room, "roomId": room}
    assert [m["id"] for m in history(server.url, room)] != [] and reply["id"] not in {
        m["id"] for m in history(server.url, room)
    }

    cleared = memory_api(server.url, "DELETE", f"/{eliza}/memories/all/{room}")
    assert cleared.status_code == 204 and cleared.content == b""
    assert await first.event("channelCleared") == {"channelId": room, "roomId": room}
    assert history(server.url, room) == []
    # a room the agent takes no part in: nothing of it is the agent's, nothing is deleted
    bystander_room, someone = new_id(), new_id()
    bystander = await clients(server.url)
    await bystander.connected()
    await bystander.call("message", join(bystander_room, someone))
    await bystander.call("message", send(bystander_room, someone, "mine"))
    assert memory_api(server.url, "DELETE", f"/{eliza}/memories/all/{bystander_room}").status_code == 204
    assert [m["content"] for m in history(server.url, bystander_room)] == ["mine"]


async def test_clearing_all_of_an_agents_memories_clears_each_of_its_channels(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    proc = server_factory()
    eliza = agents(proc.url)["Eliza"]
    rooms = []
    for text in ("one", "two"):
        client, room, _, _ = await dm_with(clients, proc.url, eliza, text)
        rooms.append((client, room))
    other, stranger = new_id(), new_id()
    bystander = await clients(proc.url)
    await bystander.connected()
    await bystander.call("message", join(other, stranger))
    await bystander.call("message", send(other, stranger, "kept"))

    cleared = memory_api(proc.url, "DELETE", f"/{eliza}/memories")
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["data"] == {"deleted": 4, "message": "All agent memories cleared successfully"}
    for client, room in rooms:
        assert await client.event("channelCleared") == {"channelId": room, "roomId": room}
        assert history(proc.url, room) == []
    assert listed(memory_api(proc.url, "GET", f"/{eliza}/memories")) == []
    assert [m["content"] for m in history(proc.url, other)] == ["kept"]


@pytest.fixture
def isolated(server_factory: Callable[..., ServerProcess]) -> ServerProcess:
    return server_factory({"ENABLE_DATA_ISOLATION": "true", "ELIZA_JWT_SECRET": SECRET})


async def test_with_data_isolation_each_user_sees_and_edits_only_their_own(
    isolated: ServerProcess, clients: Any
) -> None:
    eliza = agents(isolated.url)["Eliza"]
    ann, bob = new_id(), new_id()
    rooms = {}
    for user in (ann, bob):
        client = await clients(isolated.url, auth={"token": token(user)})
        await client.connected()
        room = new_id()
        await client.call("message", join(room, user, metadata={"isDm": True, "targetUserId": eliza}))
        await client.call("message", send(room, user, f"secret of {user}", metadata={"isDm": True}))
        await client.event("messageComplete", timeout=20)
        rooms[user] = room

    seen = listed(memory_api(isolated.url, "GET", f"/{eliza}/memories", headers=bearer(ann)))
    assert {m["roomId"] for m in seen} == {rooms[ann]} and len(seen) == 2
    assert listed(memory_api(isolated.url, "GET", f"/{eliza}/memories")) == []  # anonymous: nothing
    refused = memory_api(isolated.url, "GET", f"/{eliza}/memories?channelId={rooms[bob]}", headers=bearer(ann))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    bobs = listed(memory_api(isolated.url, "GET", f"/{eliza}/rooms/{rooms[bob]}/memories", headers=bearer(bob)))
    for caller in (ann, None):
        headers = bearer(caller) if caller else {}
        path = f"/{eliza}/memories/{bobs[1]['id']}"
        assert memory_api(isolated.url, "DELETE", path, headers=headers).status_code == 403
        assert (
            memory_api(isolated.url, "PATCH", path, json={"content": {"text": "x"}}, headers=headers).status_code == 403
        )
    # bob may not edit Eliza's words, only his own
    agents_words = memory_api(
        isolated.url,
        "PATCH",
        f"/{eliza}/memories/{bobs[0]['id']}",
        json={"content": {"text": "x"}},
        headers=bearer(bob),
    )
    assert agents_words.status_code == 403 and "only its author" in agents_words.json()["error"]["message"]
    own = memory_api(
        isolated.url,
        "PATCH",
        f"/{eliza}/memories/{bobs[1]['id']}",
        json={"content": {"text": "edited"}},
        headers=bearer(bob),
    )
    assert own.status_code == 200 and own.json()["data"]["memory"]["content"]["text"] == "edited"
    assert memory_api(isolated.url, "DELETE", f"/{eliza}/memories", headers=bearer(ann)).json()["data"]["deleted"] == 2
    assert len(listed(memory_api(isolated.url, "GET", f"/{eliza}/memories", headers=bearer(bob)))) == 2


async def test_the_memory_api_answers_alike_on_either_store(
    database: Database, server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    proc = database.start(server_factory)
    eliza = agents(proc.url)["Eliza"]
    client, room, me, reply = await dm_with(clients, proc.url, eliza, "on any database")
    mine = listed(memory_api(proc.url, "GET", f"/{eliza}/memories?tableName=messages&includeEmbedding=false"))
    assert [(m["entityId"], m["roomId"]) for m in mine] == [(eliza, room), (me, room)]
    assert listed(memory_api(proc.url, "GET", f"/{eliza}/rooms/{room}/memories?limit=1")) == mine[:1]
    edited = memory_api(proc.url, "PATCH", f"/{eliza}/memories/{mine[1]['id']}", json={"content": {"text": "edited"}})
    assert edited.json()["data"]["memory"]["content"]["text"] == "edited"
    assert memory_api(proc.url, "DELETE", f"/{eliza}/memories/{reply['id']}").status_code == 200
    assert await client.event("messageDeleted") == {"messageId": reply["id"], "channelId": room, "roomId": room}
    assert memory_api(proc.url, "DELETE", f"/{eliza}/memories").json()["data"]["deleted"] == 1
    assert listed(memory_api(proc.url, "GET", f"/{eliza}/memories")) == []
