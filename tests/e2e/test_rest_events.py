"""REST changes reach the room over Socket.IO, seen by the official socket.io-client 4.x."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import new_id
from tests.e2e.helpers import join
from tests.support.server import ServerProcess

DEFAULT = "00000000-0000-0000-0000-000000000000"


async def member(clients: Any, url: str, room: str) -> Any:
    client = await clients(url)
    await client.connected()
    assert (await client.call("message", join(room, new_id())))["success"] is True
    return client


def api(server: ServerProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{server.url}/api/messaging{path}", timeout=10, **kwargs)


async def test_a_rest_post_is_broadcast_like_a_socket_send(server: ServerProcess, clients: Any) -> None:
    room, author = new_id(), new_id()
    watcher = await member(clients, server.url, room)
    posted = api(
        server, "POST", f"/channels/{room}/messages", json={"author_id": author, "content": "over REST",
        "metadata": {"user_display_name": "Rita"}},
    )  # fmt: skip
    assert posted.status_code == 201
    seen = await watcher.event("messageBroadcast")
    assert seen["id"] == posted.json()["data"]["id"] and seen["text"] == "over REST" and seen["senderName"] == "Rita"
    assert seen["roomId"] == seen["channelId"] == room and seen["serverId"] == seen["messageServerId"] == DEFAULT


async def test_deleting_and_clearing_messages_tell_the_room(server: ServerProcess, clients: Any) -> None:
    room, author = new_id(), new_id()
    watcher = await member(clients, server.url, room)
    ids = [
        api(server, "POST", f"/channels/{room}/messages", json={"author_id": author, "content": f"m{i}"}).json()[
            "data"
        ]["id"]
        for i in range(2)
    ]
    assert api(server, "DELETE", f"/channels/{room}/messages/{ids[0]}").status_code == 204
    assert await watcher.event("messageDeleted") == {"messageId": ids[0], "channelId": room, "roomId": room}
    assert api(server, "DELETE", f"/central-channels/{room}/messages").status_code == 204
    assert await watcher.event("channelCleared") == {"channelId": room, "roomId": room}


async def test_updating_and_deleting_a_channel_tell_the_room(server: ServerProcess, clients: Any) -> None:
    room = new_id()
    api(server, "POST", "/channels", json={"name": "before", "id": room})
    watcher = await member(clients, server.url, room)
    assert api(server, "PATCH", f"/channels/{room}", json={"name": "after"}).status_code == 200
    updated = await watcher.event("channelUpdated")
    assert updated["channelId"] == updated["roomId"] == room
    assert updated["updates"]["name"] == updated["channel"]["name"] == "after"
    assert api(server, "DELETE", f"/channels/{room}").status_code == 204
    assert await watcher.event("channelDeleted") == {"channelId": room, "roomId": room}


async def test_agent_posts_and_action_updates_are_broadcast(server: ServerProcess, clients: Any) -> None:
    room, agent = new_id(), new_id()
    watcher = await member(clients, server.url, room)
    body = {
        "channel_id": room, "message_server_id": DEFAULT, "author_id": agent, "content": "Working on it",
        "source_type": "agent_action", "raw_message": {"actions": ["SEARCH"]}, "metadata": {"agentName": "Bot"},
    }  # fmt: skip
    action = api(server, "POST", "/action", json=body).json()["data"]
    first = await watcher.event("messageBroadcast")
    assert first["id"] == action["id"] and first["senderName"] == "Bot" and first["actions"] == ["SEARCH"]
    api(server, "PATCH", f"/action/{action['id']}", json={"content": "Done"})
    second = await watcher.event("messageBroadcast")
    assert second["id"] == action["id"] and second["text"] == "Done" and second["updatedAt"] >= first["updatedAt"]
    reply = api(server, "POST", "/submit", json={**body, "content": "Here you go", "source_type": "agent_response"})
    third = await watcher.event("messageBroadcast")
    assert third["id"] == reply.json()["data"]["id"] and third["text"] == "Here you go"
