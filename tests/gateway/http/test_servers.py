"""Message servers over REST: list, create, agents on a server, channels of a server, and the old routes."""

from __future__ import annotations

from tests.conftest import new_id
from tests.gateway.http.conftest import App

DEFAULT = "00000000-0000-0000-0000-000000000000"
API = "/api/messaging"


async def test_create_a_server_then_find_it_in_the_list(app: App) -> None:
    created = await app.client.post(f"{API}/message-servers", json={"name": "Guild", "sourceType": "discord"})
    assert created.status_code == 201
    server = created.json()["data"]["server"]
    assert server["name"] == "Guild" and server["sourceType"] == "discord"
    assert created.json()["data"]["messageServer"] == server
    listed = (await app.client.get(f"{API}/message-servers")).json()["data"]["messageServers"]
    assert [s["id"] for s in listed] == [DEFAULT, server["id"]]
    legacy = (await app.client.get(f"{API}/central-servers")).json()["data"]["servers"]
    assert legacy == listed


async def test_a_server_with_a_chosen_id_is_created_once(app: App) -> None:
    wanted = new_id()
    first = await app.client.post(f"{API}/servers", json={"name": "A", "sourceType": "api", "id": wanted})
    again = await app.client.post(f"{API}/message-servers", json={"name": "B", "sourceType": "api", "id": wanted})
    assert first.status_code == 201 and first.json()["data"]["server"]["id"] == wanted
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"


async def test_creating_a_server_needs_a_name_and_source_type(app: App) -> None:
    missing = await app.client.post(f"{API}/message-servers", json={"name": "only a name"})
    assert missing.status_code == 400
    assert missing.json()["error"] == {"code": "VALIDATION_ERROR", "message": "sourceType: Field required"}


async def test_agents_join_and_leave_a_server(app: App) -> None:
    agent = new_id()
    added = await app.client.post(f"{API}/message-servers/{DEFAULT}/agents", json={"agentId": agent})
    assert added.status_code == 201
    assert added.json()["data"] == {
        "serverId": DEFAULT,
        "messageServerId": DEFAULT,
        "agentId": agent,
        "message": "Agent added to server successfully",
    }
    agents = (await app.client.get(f"{API}/message-servers/{DEFAULT}/agents")).json()["data"]["agents"]
    assert agent in agents
    removed = await app.client.delete(f"{API}/message-servers/{DEFAULT}/agents/{agent}")
    assert removed.status_code == 200
    assert agent not in (await app.client.get(f"{API}/servers/{DEFAULT}/agents")).json()["data"]["agents"]
    again = await app.client.delete(f"{API}/servers/{DEFAULT}/agents/{agent}")
    assert again.status_code == 404 and "is not on message server" in again.json()["error"]["message"]


async def test_unknown_servers_and_bad_ids_are_reported(app: App) -> None:
    unknown = new_id()
    for path in (f"/message-servers/{unknown}/agents", f"/message-servers/{unknown}/channels"):
        response = await app.client.get(API + path)
        assert response.status_code == 404 and response.json()["error"]["field"] == "serverId"
    bad = await app.client.get(f"{API}/message-servers/main/channels")
    assert bad.status_code == 400 and bad.json()["error"]["message"] == "serverId must be a UUID, but got 'main'."
    bad_agent = await app.client.post(f"{API}/message-servers/{DEFAULT}/agents", json={"agentId": "bob"})
    assert bad_agent.status_code == 400 and "agentId: must be a UUID" in bad_agent.json()["error"]["message"]


async def test_a_servers_channels(app: App) -> None:
    server = (await app.client.post(f"{API}/message-servers", json={"name": "S", "sourceType": "api"})).json()
    server_id = server["data"]["server"]["id"]
    empty = await app.client.get(f"{API}/message-servers/{server_id}/channels")
    assert empty.json() == {"success": True, "data": {"channels": []}}
    channel = await app.client.post(f"{API}/channels", json={"name": "general", "messageServerId": server_id})
    listed = (await app.client.get(f"{API}/central-servers/{server_id}/channels")).json()["data"]["channels"]
    assert [c["id"] for c in listed] == [channel.json()["data"]["id"]]


async def test_a_servers_channels_for_one_participant(app: App) -> None:
    ada, bob = new_id(), new_id().upper()
    body = {"name": "ours", "participantCentralUserIds": [ada, bob.lower()]}
    ours = (await app.client.post(f"{API}/channels", json=body)).json()["data"]["id"]
    await app.client.post(f"{API}/channels", json={"name": "not ours", "participantCentralUserIds": [new_id()]})
    adas = await app.client.get(f"{API}/message-servers/{DEFAULT}/channels", params={"participantId": ada})
    assert [c["id"] for c in adas.json()["data"]["channels"]] == [ours]
    bobs = await app.client.get(f"{API}/message-servers/{DEFAULT}/channels", params={"participantId": bob})
    assert [c["id"] for c in bobs.json()["data"]["channels"]] == [ours]  # ids compare without case
    everyone = await app.client.get(f"{API}/message-servers/{DEFAULT}/channels")
    assert len(everyone.json()["data"]["channels"]) == 2
    bad = await app.client.get(f"{API}/message-servers/{DEFAULT}/channels", params={"participantId": "me"})
    assert bad.status_code == 400 and bad.json()["error"]["message"] == "participantId must be a UUID, but got 'me'."


async def test_an_agents_message_servers(app: App) -> None:
    agent = new_id()
    assert (await app.client.get(f"{API}/agents/{agent}/message-servers")).json()["data"] == {
        "agentId": agent,
        "messageServers": [],
    }
    await app.client.post(f"{API}/message-servers/{DEFAULT}/agents", json={"agentId": agent})
    listed = (await app.client.get(f"{API}/agents/{agent}/message-servers")).json()["data"]
    assert listed["messageServers"] == [DEFAULT]
    assert (await app.client.get(f"{API}/agents/nope/message-servers")).status_code == 400
