"""Channels over REST: create (with or without our own id), details, change, delete, participants, agents."""

from __future__ import annotations

from tests.conftest import new_id
from tests.gateway.http.conftest import App

DEFAULT = "00000000-0000-0000-0000-000000000000"
API = "/api/messaging"


async def create(app: App, **body: object) -> dict[str, object]:
    response = await app.client.post(f"{API}/channels", json={"name": "general", **body})
    assert response.status_code == 201, response.text
    channel: dict[str, object] = response.json()["data"]
    return channel


async def test_create_with_a_client_id_type_topic_and_participants(app: App) -> None:
    channel_id, alice, bob = new_id(), new_id(), new_id()
    channel = await create(
        app, id=channel_id, type="api", description="help desk", participantCentralUserIds=[alice, bob]
    )
    assert channel["id"] == channel_id and channel["type"] == "API" and channel["topic"] == "help desk"
    assert channel["messageServerId"] == channel["serverId"] == DEFAULT
    details = (await app.client.get(f"{API}/channels/{channel_id}/details")).json()["data"]
    assert details == channel
    participants = (await app.client.get(f"{API}/channels/{channel_id}/participants")).json()["data"]
    assert participants == sorted([alice, bob])


async def test_the_same_client_id_twice_is_a_conflict(app: App) -> None:
    channel_id = new_id()
    await create(app, id=channel_id)
    again = await app.client.post(f"{API}/channels", json={"name": "other", "id": channel_id})
    assert again.status_code == 409 and again.json()["error"]["field"] == "id"


async def test_without_an_id_each_channel_is_new_and_the_old_route_returns_it_as_data(app: App) -> None:
    first = await create(app)
    legacy = await app.client.post(
        f"{API}/central-channels", json={"name": "g", "server_id": DEFAULT, "participantCentralUserIds": []}
    )
    assert legacy.status_code == 201
    assert legacy.json()["data"]["id"] not in ("", first["id"]) and legacy.json()["data"]["name"] == "g"


async def test_creating_reports_what_is_wrong(app: App) -> None:
    cases = [
        ({"type": "GROUP"}, "name: Field required"),
        ({"name": "x", "type": "CHATROOM"}, "type 'CHATROOM' is not a channel type"),
        ({"name": "x", "messageServerId": "zero"}, "messageServerId: must be a UUID"),
        ({"name": "x", "participantCentralUserIds": ["me"]}, "participantCentralUserIds.0: must be a UUID"),
        ({"name": "x", "metadata": {"a": "z" * 70_000}}, "metadata is"),
    ]
    for body, expected in cases:
        response = await app.client.post(f"{API}/channels", json=body)
        assert response.status_code in (400, 413), body
        assert expected in response.json()["error"]["message"], response.json()
    unknown = await app.client.post(f"{API}/channels", json={"name": "x", "messageServerId": new_id()})
    assert unknown.status_code == 404


async def test_patch_changes_what_it_names_and_replaces_participants(app: App) -> None:
    alice, bob = new_id(), new_id()
    channel = await create(app, metadata={"a": 1}, participantCentralUserIds=[alice])
    changed = await app.client.patch(
        f"{API}/channels/{channel['id']}",
        json={"name": "renamed", "metadata": {"b": 2}, "participantCentralUserIds": [bob]},
    )
    assert changed.status_code == 200
    data = changed.json()["data"]
    assert data["name"] == "renamed" and data["metadata"] == {"b": 2} and data["type"] == "GROUP"
    assert data["updatedAt"] > channel["updatedAt"]
    participants = (await app.client.get(f"{API}/central-channels/{channel['id']}/participants")).json()["data"]
    assert participants == [bob]
    untouched = await app.client.patch(f"{API}/channels/{channel['id']}", json={})
    assert untouched.json()["data"]["name"] == "renamed"


async def test_delete_removes_the_channel_and_its_messages(app: App) -> None:
    channel = await create(app)
    author = new_id()
    await app.client.post(f"{API}/channels/{channel['id']}/messages", json={"author_id": author, "content": "hi"})
    deleted = await app.client.delete(f"{API}/channels/{channel['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert (await app.client.get(f"{API}/channels/{channel['id']}/details")).status_code == 404
    history = (await app.client.get(f"{API}/channels/{channel['id']}/messages")).json()["data"]["messages"]
    assert history == []
    assert (await app.client.delete(f"{API}/channels/{channel['id']}")).status_code == 404


async def test_agents_in_a_channel(app: App) -> None:
    agent, user = new_id(), new_id()
    await app.client.post(f"{API}/message-servers/{DEFAULT}/agents", json={"agentId": agent})
    channel = await create(app, participantCentralUserIds=[user])
    added = await app.client.post(f"{API}/channels/{channel['id']}/agents", json={"agentId": agent})
    assert added.status_code == 201 and added.json()["data"]["agentId"] == agent
    listed = (await app.client.get(f"{API}/channels/{channel['id']}/agents")).json()["data"]
    assert listed == {"channelId": channel["id"], "participants": sorted([agent, user]), "agents": [agent]}
    removed = await app.client.delete(f"{API}/central-channels/{channel['id']}/agents/{agent}")
    assert removed.status_code == 200
    assert (await app.client.get(f"{API}/channels/{channel['id']}/agents")).json()["data"]["agents"] == []
    gone = await app.client.delete(f"{API}/channels/{channel['id']}/agents/{agent}")
    assert gone.status_code == 404 and "is not a participant" in gone.json()["error"]["message"]


async def test_routes_on_a_missing_channel_answer_404(app: App) -> None:
    missing = new_id()
    for method, path, body in [
        ("GET", f"/channels/{missing}/details", None),
        ("PATCH", f"/channels/{missing}", {"name": "x"}),
        ("DELETE", f"/channels/{missing}", None),
        ("GET", f"/channels/{missing}/participants", None),
        ("GET", f"/channels/{missing}/agents", None),
        ("POST", f"/channels/{missing}/agents", {"agentId": new_id()}),
        ("DELETE", f"/channels/{missing}/messages", None),
    ]:
        response = await app.client.request(method, API + path, json=body)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == {
            "code": "NOT_FOUND",
            "message": f"Channel {missing} does not exist. Create it with POST /api/messaging/channels,"
            " or by sending a message to it.",
            "field": "channelId",
        }


async def test_generate_title_waits_for_three_messages_then_names_the_channel(app: App) -> None:
    channel = (await app.client.post(f"{API}/channels", json={"name": "untitled"})).json()["data"]["id"]
    author = new_id()
    url = f"{API}/channels/{channel}/generate-title"
    for text in ["planning the summer trip to lisbon with friends", "b"]:
        await app.client.post(f"{API}/channels/{channel}/messages", json={"author_id": author, "content": text})
        early = (await app.client.post(url)).json()["data"]
        assert early["title"] is None and early["reason"]
    await app.client.post(f"{API}/channels/{channel}/messages", json={"author_id": author, "content": "c"})
    titled = (await app.client.post(url)).json()["data"]
    assert titled == {"channelId": channel, "title": "Planning the summer trip to lisbon…"}
    details = (await app.client.get(f"{API}/channels/{channel}/details")).json()["data"]
    assert details["name"] == "Planning the summer trip to lisbon…"
    missing = await app.client.post(f"{API}/channels/{new_id()}/generate-title")
    assert missing.status_code == 404
