"""What agent runtimes and bridges post: /submit (a reply), /action (updated in place), /ingest-external."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.conftest import new_id
from tests.gateway.http.conftest import App, FakeAgent

API = "/api/messaging"
DEFAULT = "00000000-0000-0000-0000-000000000000"


def agent_message(channel: str, author: str, **extra: Any) -> dict[str, Any]:
    return {
        "channel_id": channel,
        "server_id": DEFAULT,
        "author_id": author,
        "content": "I can help with that.",
        "source_type": "agent_response",
        "raw_message": {"thought": "user needs help", "actions": ["REPLY"]},
        "metadata": {"agentName": "Helper"},
        **extra,
    }


async def test_submit_stores_an_agent_reply_and_completes_an_http_wait(app: App) -> None:
    """An external agent's reply answers a user's http-transport post like an internal agent's would."""
    external, channel, user = new_id(), new_id(), new_id()
    await app.client.post(f"{API}/message-servers/{DEFAULT}/agents", json={"agentId": external})
    await app.client.post(f"{API}/channels", json={"name": "c", "id": channel, "participantIds": [external]})
    waiting = asyncio.create_task(
        app.client.post(
            f"{API}/channels/{channel}/messages", json={"author_id": user, "content": "help?", "transport": "http"}
        )
    )
    for _ in range(200):
        history = (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"]
        if history:
            break
        await asyncio.sleep(0.01)
    question = history[0]
    submitted = await app.client.post(
        f"{API}/submit", json=agent_message(channel, external, in_reply_to_message_id=question["id"])
    )
    assert submitted.status_code == 201
    stored = submitted.json()["data"]
    assert stored["authorId"] == external and stored["senderName"] == "Helper"
    assert stored["inReplyToRootMessageId"] == question["id"] and stored["createdAt"] > question["createdAt"]
    assert stored["metadata"]["thought"] == "user needs help"
    answered = await waiting
    assert answered.status_code == 201 and answered.json()["agentResponse"]["id"] == stored["id"]


async def test_submit_with_a_message_id_is_idempotent(app: App) -> None:
    channel, author, message_id = new_id(), new_id(), new_id()
    first = await app.client.post(f"{API}/submit", json=agent_message(channel, author, messageId=message_id))
    again = await app.client.post(f"{API}/submit", json=agent_message(channel, author, messageId=message_id))
    assert first.json()["data"]["id"] == again.json()["data"]["id"] == message_id
    history = (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"]
    assert len(history) == 1
    other = await app.client.post(f"{API}/submit", json=agent_message(new_id(), author, messageId=message_id))
    assert other.status_code == 409


async def test_submit_needs_elizaos_fields(app: App) -> None:
    body = agent_message(new_id(), new_id())
    for missing in ("channel_id", "server_id", "author_id", "content", "source_type", "raw_message"):
        response = await app.client.post(f"{API}/submit", json={k: v for k, v in body.items() if k != missing})
        assert response.status_code == 400, missing
        assert "Field required" in response.json()["error"]["message"]
    empty = await app.client.post(f"{API}/submit", json={**body, "content": " "})
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "content"


async def test_an_action_message_is_updated_in_place(app: App, fake_agent: FakeAgent) -> None:
    channel, author = new_id(), new_id()
    await app.client.post(f"{API}/channels", json={"name": "c", "id": channel, "participantIds": [fake_agent.id]})
    created = await app.client.post(
        f"{API}/action", json=agent_message(channel, author, content="Searching...", source_type="agent_action")
    )
    assert created.status_code == 201
    action = created.json()["data"]
    updated = await app.client.patch(
        f"{API}/action/{action['id']}",
        json={"content": "Found 3 results", "metadata": {"step": 2}, "raw_message": {"status": "done"}},
    )
    assert updated.status_code == 200
    data = updated.json()["data"]
    assert data["id"] == action["id"] and data["content"] == "Found 3 results"
    assert data["metadata"]["step"] == 2 and data["metadata"]["agentName"] == "Helper"
    assert data["rawMessage"]["status"] == "done" and data["updatedAt"] > action["updatedAt"]
    history = (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"]
    assert [m["content"] for m in history] == ["Found 3 results"]
    await asyncio.sleep(0.05)
    assert fake_agent.seen == []  # action messages are not handed to the agents
    # positive control: a person's post in the same channel is handed to the agent, after the action would have been
    post = await app.client.post(f"{API}/channels/{channel}/messages", json={"author_id": new_id(), "content": "ok"})
    assert post.status_code == 201, post.text
    for _ in range(200):
        if fake_agent.seen:
            break
        await asyncio.sleep(0.01)
    assert [m.id for m in fake_agent.seen] == [post.json()["data"]["id"]]
    missing = await app.client.patch(f"{API}/action/{new_id()}", json={"content": "x"})
    assert missing.status_code == 404
    bad = await app.client.patch(f"{API}/action/{action['id']}", json={"content": "a\x00"})
    assert bad.status_code == 400 and "U+0000" in bad.json()["error"]["message"]


async def test_ingest_external_hands_the_message_to_the_agents(app: App, fake_agent: FakeAgent) -> None:
    channel, author = new_id(), new_id()
    await app.client.post(f"{API}/channels", json={"name": "c", "id": channel, "participantIds": [fake_agent.id]})
    response = await app.client.post(
        f"{API}/ingest-external",
        json={
            "channel_id": channel,
            "server_id": DEFAULT,
            "author_id": author,
            "author_display_name": "Discord User",
            "content": "from discord",
            "source_type": "discord",
            "source_id": "1234567890",
        },
    )
    assert response.status_code == 202
    body = response.json()
    assert body["success"] is True and body["message"] == "Message ingested and published to bus"
    for _ in range(100):
        if fake_agent.seen:
            break
        await asyncio.sleep(0.01)
    seen = fake_agent.seen[0]
    assert seen.id == body["data"]["messageId"] and seen.author_name == "Discord User"
    assert seen.source_type == "discord" and seen.metadata["sourceId"] == "1234567890"
    bad = await app.client.post(f"{API}/ingest-external", json={"channel_id": channel, "content": "x"})
    assert bad.status_code == 400
