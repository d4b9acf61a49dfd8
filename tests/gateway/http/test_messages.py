"""A channel's messages over REST: posting reaches the agents like a Socket.IO send; read, delete, clear;
the http and sse transports wait for the agent's reply."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import new_id
from tests.gateway.http.conftest import App, FakeAgent

API = "/api/messaging"


def parse_sse(text: str) -> list[tuple[str, Any]]:
    import json

    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def post(app: App, channel: str, **body: Any) -> Any:
    return await app.client.post(f"{API}/channels/{channel}/messages", json=body)


async def test_a_post_is_stored_broadcast_shaped_and_handed_to_the_agents(app: App, fake_agent: FakeAgent) -> None:
    channel, author = new_id(), new_id()
    await app.client.post(f"{API}/channels", json={"name": "c", "id": channel, "participantCentralUserIds": []})
    await app.client.post(f"{API}/channels/{channel}/agents", json={"agentId": fake_agent.id})
    response = await post(app, channel, author_id=author, content="hello agents", metadata={"user_display_name": "Ann"})
    assert response.status_code == 201
    body = response.json()
    message = body["data"]
    assert body["success"] is True and body["userMessage"] == message and body["duplicate"] is False
    assert message["channel_id"] == message["channelId"] == channel and message["author_id"] == author
    assert message["content"] == message["text"] == "hello agents" and message["source_type"] == "eliza_gui"
    assert message["author_display_name"] == "Ann"
    for _ in range(100):
        if fake_agent.seen:
            break
        await asyncio.sleep(0.01)
    assert [m.id for m in fake_agent.seen] == [message["id"]]
    history = (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"]
    assert [m["id"] for m in history][-1] == message["id"]


async def test_posting_to_a_new_channel_creates_it(app: App) -> None:
    channel = new_id()
    response = await post(
        app, channel, author_id=new_id(), content="first", server_id="00000000-0000-0000-0000-000000000000"
    )
    assert response.status_code == 201
    details = (await app.client.get(f"{API}/central-channels/{channel}/details")).json()["data"]
    assert details["type"] == "GROUP"


async def test_a_retry_with_the_same_message_id_is_stored_once(app: App) -> None:
    channel, author, client_id = new_id(), new_id(), new_id()
    first = await post(app, channel, author_id=author, content="once", messageId=client_id)
    second = await app.client.post(
        f"{API}/central-channels/{channel}/messages", json={"authorId": author, "text": "once", "messageId": client_id}
    )
    assert second.json()["duplicate"] is True and second.json()["data"]["id"] == first.json()["data"]["id"]
    history = (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"]
    assert len(history) == 1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"content": "x", "author_id": None}, None, "author_id: Field required"),
        ({"author_id": "me", "content": "x"}, None, "author_id: must be a UUID"),
        ({"content": "   "}, "content", "content is empty"),
        ({"content": "a\x00b"}, "content", "content contains the NUL character"),
        ({"content": "x" * 100_001}, "content", "content is 100001 characters long"),
        ({"content": 5}, None, "content: Input should be a valid string"),
        ({"content": "x", "metadata": [1]}, None, "metadata: Input should be a valid dictionary"),
        ({"content": "x", "messageServerId": new_id()}, "messageServerId", "is not a message server"),
        ({"content": "x", "attachments": "file"}, None, "attachments: Input should be a valid list"),
        ({"content": "x", "transport": "carrier-pigeon"}, None, "transport: Input should be"),
    ],
)
async def test_bad_posts_say_what_to_fix(app: App, body: dict[str, Any], field: str | None, words: str) -> None:
    body.setdefault("author_id", new_id())
    if body["author_id"] is None:
        del body["author_id"]
    response = await post(app, new_id(), **body)
    assert response.status_code in (400, 413)
    error = response.json()["error"]
    assert words in error["message"], error
    assert error.get("field") == field


async def test_deep_metadata_is_refused_without_harm(app: App) -> None:
    deep: dict[str, Any] = {}
    for _ in range(500):
        deep = {"a": deep}
    response = await post(app, new_id(), author_id=new_id(), content="x", metadata=deep)
    assert response.status_code == 400
    assert "nested more than 32 levels deep" in response.json()["error"]["message"]
    assert (await app.client.get("/healthz")).status_code == 200


async def test_history_paging_bounds(app: App) -> None:
    channel = new_id()
    for bad in ({"limit": "1e20"}, {"limit": 0}, {"limit": -5}):
        response = await app.client.get(f"{API}/channels/{channel}/messages", params=bad)
        assert response.status_code == 400, bad
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    # above the maximum is the maximum (ElizaOS answers limit=1400), and the answer says which was used
    for asked, used in ((1400, 1000), (1001, 1000), (1000, 1000), (999, 999), (10**40, 1000)):
        response = await app.client.get(f"{API}/channels/{channel}/messages", params={"limit": asked})
        assert response.status_code == 200, asked
        assert response.json()["data"]["limit"] == used
    assert (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["limit"] == 50
    for bad in ({"before": 2**63}, {"after": -1}, {"before": "yesterday"}):
        response = await app.client.get(f"{API}/channels/{channel}/messages", params=bad)
        assert response.status_code == 400, bad
        error = response.json()["error"]
        assert error["field"] in bad and ("ISO 8601" in error["message"] or "out of range" in error["message"])


async def test_history_bounds_accept_iso_times_as_the_elizaos_web_client_sends(app: App) -> None:
    channel, author = new_id(), new_id()
    created = [(await post(app, channel, author_id=author, content=f"m{i}")).json()["data"] for i in range(3)]
    newest = created[-1]["createdAt"]
    iso = datetime.fromtimestamp(newest / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    older = (await app.client.get(f"{API}/channels/{channel}/messages", params={"before": iso})).json()
    by_ms = (await app.client.get(f"{API}/channels/{channel}/messages", params={"before": newest})).json()
    assert older == by_ms and "m2" not in [m["content"] for m in older["data"]["messages"]]


async def test_delete_one_message_and_clear_the_rest(app: App) -> None:
    channel, author = new_id(), new_id()
    ids = [(await post(app, channel, author_id=author, content=f"m{i}")).json()["data"]["id"] for i in range(3)]
    deleted = await app.client.delete(f"{API}/channels/{channel}/messages/{ids[1]}")
    assert deleted.status_code == 204
    left = (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"]
    assert [m["content"] for m in left] == ["m2", "m0"]
    again = await app.client.delete(f"{API}/central-channels/{channel}/messages/{ids[1]}")
    assert again.status_code == 404 and again.json()["error"]["field"] == "messageId"
    elsewhere = await app.client.delete(f"{API}/channels/{new_id()}/messages/{ids[0]}")
    assert elsewhere.status_code == 404
    cleared = await app.client.delete(f"{API}/channels/{channel}/messages")
    assert cleared.status_code == 204
    assert (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"] == []


async def test_http_transport_returns_the_agents_stored_reply(app: App, fake_agent: FakeAgent) -> None:
    channel = new_id()
    await app.client.post(f"{API}/channels", json={"name": "c", "id": channel, "participantIds": [fake_agent.id]})
    response = await post(app, channel, author_id=new_id(), content="hi", transport="http")
    assert response.status_code == 201
    body = response.json()
    reply = body["agentResponse"]
    assert reply["text"] == "Hello there" and reply["thought"] == "being helpful" and reply["actions"] == ["REPLY"]
    assert reply["inReplyTo"] == body["userMessage"]["id"] and reply["agentId"] == fake_agent.id
    history = (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"]
    assert [m["id"] for m in history] == [reply["id"], body["userMessage"]["id"]]


async def test_http_transport_retry_does_not_wait_for_a_reply_already_given(app: App, fake_agent: FakeAgent) -> None:
    channel, client_id = new_id(), new_id()
    await app.client.post(f"{API}/channels", json={"name": "c", "id": channel, "participantIds": [fake_agent.id]})
    body = {"author_id": new_id(), "content": "hi", "transport": "http", "messageId": client_id}
    first = await post(app, channel, **body)
    fake_agent.behaviour = "hang"
    retry = await post(app, channel, **body)
    assert first.json()["agentResponse"]["text"] == "Hello there"
    assert retry.status_code == 201 and retry.json()["duplicate"] is True and retry.json()["agentResponse"] is None


async def test_http_transport_with_no_agent_in_the_channel_answers_at_once(app: App) -> None:
    response = await post(app, new_id(), author_id=new_id(), content="anyone?", mode="sync")
    assert response.status_code == 201 and response.json()["agentResponse"] is None


@pytest.mark.parametrize(
    ("behaviour", "status", "code"),
    [("error", 502, "AGENT_ERROR"), ("crash", 502, "AGENT_ERROR"), ("hang", 504, "AGENT_TIMEOUT")],
)
async def test_http_transport_reports_a_failed_or_missing_reply(
    app: App, fake_agent: FakeAgent, behaviour: str, status: int, code: str
) -> None:
    fake_agent.behaviour = behaviour  # type: ignore[assignment]
    channel = new_id()
    await app.client.post(f"{API}/channels", json={"name": "c", "id": channel, "participantIds": [fake_agent.id]})
    response = await post(app, channel, author_id=new_id(), content="hi", transport="http")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert "is stored" in response.json()["error"]["message"]
    history = (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"]
    assert [m["content"] for m in history] == ["hi"]


async def test_sse_transport_streams_chunks_then_the_reply(app: App, fake_agent: FakeAgent) -> None:
    channel = new_id()
    await app.client.post(f"{API}/channels", json={"name": "c", "id": channel, "participantIds": [fake_agent.id]})
    response = await post(app, channel, author_id=new_id(), content="stream please", mode="stream")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    assert [name for name, _ in events] == ["user_message", "chunk", "chunk", "done"]
    assert events[0][1]["content"] == "stream please"
    assert [e["chunk"] for _, e in events[1:3]] == ["Hello", " there"] and events[2][1]["index"] == 1
    assert events[3][1]["text"] == "Hello there" and events[3][1]["inReplyTo"] == events[0][1]["id"]


async def test_sse_transport_ends_with_error_or_silence(app: App, fake_agent: FakeAgent) -> None:
    channel = new_id()
    await app.client.post(f"{API}/channels", json={"name": "c", "id": channel, "participantIds": [fake_agent.id]})
    fake_agent.behaviour = "error"
    failed = parse_sse((await post(app, channel, author_id=new_id(), content="a", transport="sse")).text)
    assert failed[-1] == (
        "error",
        {"error": "model exploded", "agentId": fake_agent.id, "messageId": failed[-2][1]["messageId"]},
    )
    fake_agent.behaviour = "silent"
    silent = parse_sse((await post(app, channel, author_id=new_id(), content="b", transport="sse")).text)
    assert [n for n, _ in silent] == ["user_message", "done"] and silent[-1][1]["ignored"] is True


async def test_a_post_with_several_wrong_fields_names_them_all_as_rest_spells_them(app: App) -> None:
    response = await post(app, new_id(), author_id="your-user-id", content="hi", in_reply_to_message_id="last")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"  # the body's schema: every field it finds wrong, in one answer
    assert error["fields"] == ["author_id", "in_reply_to_message_id"] and error["field"] == "author_id"
    assert "author_id:" in error["message"] and "in_reply_to_message_id:" in error["message"]
