"""The Sessions API: ElizaOS's shapes, defaults, limits and errors, stored sessions, and the three transports."""

from __future__ import annotations

from typing import Any

import pytest

from eliza_messaging.messaging.sessions import Sessions
from tests.conftest import new_id
from tests.gateway.http.conftest import App, FakeAgent
from tests.gateway.http.test_messages import parse_sse

API = "/api/messaging/sessions"


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += int(minutes * 60_000)


@pytest.fixture
def clock(app: App) -> Clock:
    """Swap in a Sessions service whose time the test moves."""
    moving = Clock(1_800_000_000_000)
    app.state.sessions = Sessions(app.messaging, clock=moving)
    return moving


async def create(app: App, agent: str, **body: Any) -> dict[str, Any]:
    response = await app.client.post(API, json={"agentId": agent, "userId": new_id(), **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def session_error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "timestamp"}
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    return message


async def test_create_answers_elizaos_shape_with_defaults(app: App, fake_agent: FakeAgent) -> None:
    created = await create(app, fake_agent.id, metadata={"platform": "web"})
    assert set(created) == {
        "sessionId", "channelId", "agentId", "userId", "createdAt", "metadata", "expiresAt", "timeoutConfig"
    }  # fmt: skip
    assert created["timeoutConfig"] == {
        "timeoutMinutes": 30, "autoRenew": True, "maxDurationMinutes": 720, "warningThresholdMinutes": 5
    }  # fmt: skip
    assert created["metadata"] == {"platform": "web"} and created["createdAt"].endswith("Z")
    channel = (await app.client.get(f"/api/messaging/channels/{created['channelId']}/details")).json()["data"]
    assert channel["type"] == "DM" and channel["metadata"]["sessionId"] == created["sessionId"]
    info = (await app.client.get(f"{API}/{created['sessionId']}")).json()
    assert info["renewalCount"] == 0 and 0 < info["timeRemaining"] <= 30 * 60_000
    assert info["isNearExpiration"] is False and info["lastActivity"] == info["createdAt"]


async def test_timeout_config_is_clamped_like_elizaos(app: App, fake_agent: FakeAgent) -> None:
    low = await create(app, fake_agent.id, timeoutConfig={"timeoutMinutes": 1, "warningThresholdMinutes": 0})
    assert low["timeoutConfig"]["timeoutMinutes"] == 5 and low["timeoutConfig"]["warningThresholdMinutes"] == 1
    high = await create(app, fake_agent.id, timeoutConfig={"timeoutMinutes": "5000", "maxDurationMinutes": 10})
    assert high["timeoutConfig"]["timeoutMinutes"] == 1440 and high["timeoutConfig"]["maxDurationMinutes"] == 1440


async def test_create_errors(app: App, fake_agent: FakeAgent) -> None:
    user = new_id()
    message = session_error(await app.client.post(API, json={"userId": user}), 400, "VALIDATION_ERROR")
    assert "agentId" in message
    message = session_error(await app.client.post(API, json={"agentId": "x", "userId": user}), 400, "VALIDATION_ERROR")
    assert message == "Invalid UUID format for field 'agentId'"
    unknown = new_id()
    message = session_error(
        await app.client.post(API, json={"agentId": unknown, "userId": user}), 404, "AGENT_NOT_FOUND"
    )
    assert message == f"Agent with ID '{unknown}' not found"
    big = {"agentId": fake_agent.id, "userId": user, "metadata": {"blob": "x" * 11_000}}
    message = session_error(await app.client.post(API, json=big), 400, "VALIDATION_ERROR")
    assert message == "Invalid metadata: Metadata exceeds maximum size of 10240 bytes"
    bad_timeout = {"agentId": fake_agent.id, "userId": user, "timeoutConfig": {"timeoutMinutes": "soon"}}
    session_error(await app.client.post(API, json=bad_timeout), 400, "VALIDATION_ERROR")
    malformed = await app.client.post(API, content=b'{"agentId":', headers={"content-type": "application/json"})
    assert "not valid JSON" in session_error(malformed, 400, "VALIDATION_ERROR")


async def test_websocket_transport_returns_the_stored_message_and_session_status(
    app: App, fake_agent: FakeAgent
) -> None:
    session = await create(app, fake_agent.id)
    response = await app.client.post(f"{API}/{session['sessionId']}/messages", json={"content": "hi"})
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and "agentResponse" not in body
    assert body["userMessage"]["content"] == "hi" and body["userMessage"]["author_id"] == session["userId"]
    assert body["userMessage"]["metadata"]["sessionId"] == session["sessionId"]
    assert body["sessionStatus"]["wasRenewed"] is True and body["sessionStatus"]["renewalCount"] == 1


async def test_http_transport_waits_for_the_reply_which_is_stored_too(app: App, fake_agent: FakeAgent) -> None:
    session = await create(app, fake_agent.id)
    response = await app.client.post(
        f"{API}/{session['sessionId']}/messages", json={"content": "hello", "transport": "http"}
    )
    assert response.status_code == 201
    reply = response.json()["agentResponse"]
    assert reply["text"] == "Hello there" and reply["agentId"] == fake_agent.id
    history = (await app.client.get(f"{API}/{session['sessionId']}/messages")).json()
    assert [(m["content"], m["isAgent"]) for m in history["messages"]] == [("Hello there", True), ("hello", False)]
    assert history["messages"][0]["metadata"]["thought"] == "being helpful"


async def test_the_default_agent_eliza_answers_over_http_and_sse(app: App) -> None:
    eliza = next(a for a in (await app.client.get("/api/agents")).json()["data"]["agents"] if a["name"] == "Eliza")
    session = await create(app, eliza["id"])
    answer = await app.client.post(
        f"{API}/{session['sessionId']}/messages", json={"content": "I feel sad today", "mode": "sync"}
    )
    assert answer.status_code == 201 and answer.json()["agentResponse"]["text"].strip()
    streamed = await app.client.post(
        f"{API}/{session['sessionId']}/messages", json={"content": "My mother worries me", "transport": "sse"}
    )
    events = parse_sse(streamed.text)
    assert events[0][0] == "user_message" and events[-1][0] == "done" and "chunk" in [n for n, _ in events]
    assert "".join(e["chunk"] for n, e in events if n == "chunk").strip() == events[-1][1]["text"]


async def test_sse_transport_and_agent_failures(app: App, fake_agent: FakeAgent) -> None:
    session = await create(app, fake_agent.id)
    url = f"{API}/{session['sessionId']}/messages"
    events = parse_sse((await app.client.post(url, json={"content": "go", "transport": "sse"})).text)
    assert [n for n, _ in events] == ["user_message", "chunk", "chunk", "done"]
    fake_agent.behaviour = "error"
    failed = await app.client.post(url, json={"content": "go", "transport": "http"})
    assert session_error(failed, 502, "AGENT_ERROR").startswith(
        f"Agent {fake_agent.id} failed to answer: model exploded"
    )
    fake_agent.behaviour = "silent"
    silent = await app.client.post(url, json={"content": "go", "transport": "http"})
    assert silent.status_code == 201 and silent.json()["agentResponse"] is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"content": ""}, "Invalid content: Content cannot be empty"),
        ({"content": "x" * 4001}, "Invalid content: Content exceeds maximum length of 4000 characters"),
        ({"content": "a\x00b"}, "Invalid content: content contains the NUL character"),
        ({"content": 7}, "content: Input should be a valid string"),
        ({"content": "x", "transport": "pigeon"}, "transport: Input should be"),
        ({"content": "x", "metadata": {"k": "v" * 11_000}}, "Invalid metadata: Metadata exceeds maximum size"),
        ({"content": "x", "attachments": [{"n": i} for i in range(40)]}, "attachments has 40 entries"),
    ],
)
async def test_bad_session_messages(app: App, fake_agent: FakeAgent, body: dict[str, Any], message: str) -> None:
    session = await create(app, fake_agent.id)
    response = await app.client.post(f"{API}/{session['sessionId']}/messages", json=body)
    assert message in session_error(response, 400, "VALIDATION_ERROR")


async def test_history_pages_with_cursors(app: App, fake_agent: FakeAgent, clock: Clock) -> None:
    fake_agent.behaviour = "hang"
    session = await create(app, fake_agent.id)
    url = f"{API}/{session['sessionId']}/messages"
    for i in range(5):
        await app.client.post(url, json={"content": f"m{i}"})
    page = (await app.client.get(url, params={"limit": 2})).json()
    assert [m["content"] for m in page["messages"]] == ["m4", "m3"] and page["hasMore"] is True
    older = (await app.client.get(url, params={"limit": 2, "before": page["cursors"]["before"]})).json()
    assert [m["content"] for m in older["messages"]] == ["m2", "m1"] and older["hasMore"] is True
    newer = (await app.client.get(url, params={"limit": 2, "after": older["cursors"]["after"]})).json()
    assert [m["content"] for m in newer["messages"]] == ["m4", "m3"] and newer["hasMore"] is False
    everything = (await app.client.get(url, params={"limit": 1000})).json()
    assert len(everything["messages"]) == 5 and everything["hasMore"] is False
    assert everything["limit"] == 100 and page["limit"] == 2  # above the maximum: the maximum, said so
    empty = (await app.client.get(url, params={"after": 2**52})).json()
    assert empty == {
        "messages": [],
        "hasMore": False,
        "limit": 50,
        "cursors": {"before": None, "after": None, "beforeSeq": None, "afterSeq": None},
    }
    for bad in ({"limit": "1e20"}, {"limit": 0}, {"before": "yesterday"}, {"after": 2**60}):
        session_error(await app.client.get(url, params=bad), 400, "VALIDATION_ERROR")


async def test_expiry_renewal_and_heartbeat(app: App, fake_agent: FakeAgent, clock: Clock) -> None:
    session = await create(app, fake_agent.id, timeoutConfig={"timeoutMinutes": 10, "maxDurationMinutes": 30})
    sid = session["sessionId"]
    clock.advance(6)
    near = (await app.client.get(f"{API}/{sid}")).json()
    assert near["timeRemaining"] == 4 * 60_000 and near["isNearExpiration"] is True
    beat = (await app.client.post(f"{API}/{sid}/heartbeat")).json()
    assert beat["renewalCount"] == 1 and beat["timeRemaining"] == 10 * 60_000 and beat["isNearExpiration"] is False
    clock.advance(9)
    renewed = (await app.client.post(f"{API}/{sid}/renew")).json()
    assert renewed["renewalCount"] == 2 and renewed["timeRemaining"] == 10 * 60_000
    clock.advance(9)  # 24 minutes in: the 30-minute maximum now caps the expiry
    capped = (await app.client.post(f"{API}/{sid}/heartbeat")).json()
    assert capped["timeRemaining"] == 6 * 60_000
    clock.advance(6)
    expired = await app.client.get(f"{API}/{sid}")
    assert "expired at" in session_error(expired, 410, "SESSION_EXPIRED")
    for method, path in (("POST", "/messages"), ("GET", "/messages"), ("POST", "/renew"), ("POST", "/heartbeat")):
        response = await app.client.request(method, f"{API}/{sid}{path}", json={"content": "x"})
        session_error(response, 410, "SESSION_EXPIRED")


async def test_manual_renewal_works_without_auto_renew_but_not_past_the_maximum(
    app: App, fake_agent: FakeAgent, clock: Clock
) -> None:
    session = await create(
        app, fake_agent.id, timeoutConfig={"timeoutMinutes": 60, "autoRenew": False, "maxDurationMinutes": 60}
    )
    clock.advance(30)
    beat = (await app.client.post(f"{API}/{session['sessionId']}/heartbeat")).json()
    assert beat["renewalCount"] == 0 and beat["timeRemaining"] == 30 * 60_000  # no auto-renew
    clock.advance(29)
    renewed = (await app.client.post(f"{API}/{session['sessionId']}/renew")).json()
    assert renewed["renewalCount"] == 1 and renewed["timeRemaining"] == 60_000  # capped by the 60-minute maximum
    assert renewed["timeoutConfig"]["autoRenew"] is False


async def test_update_timeout(app: App, fake_agent: FakeAgent, clock: Clock) -> None:
    session = await create(app, fake_agent.id)
    url = f"{API}/{session['sessionId']}/timeout"
    changed = (await app.client.patch(url, json={"timeoutMinutes": 60, "autoRenew": False})).json()
    assert changed["timeoutConfig"]["timeoutMinutes"] == 60 and changed["timeoutConfig"]["autoRenew"] is False
    assert changed["timeRemaining"] == 60 * 60_000
    kept = (await app.client.patch(url, json={"warningThresholdMinutes": 10})).json()
    assert kept["timeoutConfig"]["timeoutMinutes"] == 60  # what is not named is kept
    out_of_range = await app.client.patch(url, json={"timeoutMinutes": 2})
    assert session_error(out_of_range, 400, "VALIDATION_ERROR") == (
        "Invalid timeout configuration: Timeout must be between 5 and 1440 minutes"
    )
    session_error(await app.client.patch(url, json={"autoRenew": "sometimes"}), 400, "VALIDATION_ERROR")


async def test_list_health_and_delete(app: App, fake_agent: FakeAgent, clock: Clock) -> None:
    keep = await create(app, fake_agent.id)
    short = await create(app, fake_agent.id, timeoutConfig={"timeoutMinutes": 5})
    clock.advance(4)
    health = (await app.client.get(f"{API}/health")).json()
    assert health["status"] == "healthy" and health["activeSessions"] == 2 and health["expiringSoon"] == 1
    clock.advance(2)
    assert (await app.client.get(API)).json()["sessions"] == []  # anonymous callers list nobody's sessions
    app.asgi.components.authenticator.server_token = "server-token"  # the server token lists them all
    listed = (await app.client.get(API, headers={"X-API-KEY": "server-token"})).json()
    app.asgi.components.authenticator.server_token = None
    assert [s["sessionId"] for s in listed["sessions"]] == [keep["sessionId"]] and listed["total"] == 1
    assert listed["stats"] == {"totalSessions": 2, "activeSessions": 1, "expiredSessions": 1}
    deleted = await app.client.delete(f"{API}/{keep['sessionId']}")
    assert deleted.json() == {"success": True, "message": f"Session {keep['sessionId']} deleted successfully"}
    session_error(await app.client.get(f"{API}/{keep['sessionId']}"), 404, "SESSION_NOT_FOUND")
    session_error(await app.client.delete(f"{API}/{keep['sessionId']}"), 404, "SESSION_NOT_FOUND")
    assert (await app.client.delete(f"{API}/{short['sessionId']}")).status_code == 200  # expired ones too


async def test_unknown_sessions(app: App) -> None:
    for method, path in (
        ("GET", ""), ("POST", "/messages"), ("GET", "/messages"), ("POST", "/renew"),
        ("POST", "/heartbeat"), ("PATCH", "/timeout"), ("DELETE", ""),
    ):  # fmt: skip
        response = await app.client.request(method, f"{API}/{new_id()}{path}", json={"content": "x"})
        assert "not found" in session_error(response, 404, "SESSION_NOT_FOUND")
