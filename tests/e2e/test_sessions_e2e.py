"""The Sessions API on a real server: the agent Eliza answers, and sessions outlive a restart."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import jwt

from tests.conftest import new_id
from tests.e2e.helpers import join
from tests.support.server import ServerProcess

API = "/api/messaging/sessions"


def eliza(url: str) -> str:
    agents = httpx.get(f"{url}/api/agents").json()["data"]["agents"]
    return str(next(a["id"] for a in agents if a["name"] == "Eliza"))


async def test_eliza_answers_a_session_and_the_room_sees_both(server: ServerProcess, clients: Any) -> None:
    created = httpx.post(f"{server.url}{API}", json={"agentId": eliza(server.url), "userId": new_id()}).json()
    watcher = await clients(server.url)
    await watcher.connected()
    await watcher.call("message", join(created["channelId"], new_id()))
    sent = httpx.post(
        f"{server.url}{API}/{created['sessionId']}/messages",
        json={"content": "I am unhappy with my work", "transport": "http"},
        timeout=30,
    )
    assert sent.status_code == 201
    reply = sent.json()["agentResponse"]
    assert reply["agentId"] == created["agentId"] and reply["text"].strip()
    question = await watcher.event("messageBroadcast", where=lambda m: m["senderId"] == created["userId"])
    answer = await watcher.event("messageBroadcast", where=lambda m: m["senderId"] == created["agentId"])
    assert question["text"] == "I am unhappy with my work"
    assert answer["id"] == reply["id"] and answer["inReplyTo"] == question["id"]


async def test_websocket_transport_reply_arrives_on_the_socket(server: ServerProcess, clients: Any) -> None:
    created = httpx.post(f"{server.url}{API}", json={"agentId": eliza(server.url), "userId": new_id()}).json()
    watcher = await clients(server.url)
    await watcher.connected()
    await watcher.call("message", join(created["channelId"], created["userId"]))
    sent = httpx.post(f"{server.url}{API}/{created['sessionId']}/messages", json={"content": "Hello Eliza"})
    assert sent.status_code == 201 and "agentResponse" not in sent.json()
    answer = await watcher.event("messageBroadcast", where=lambda m: m["senderId"] == created["agentId"], timeout=20)
    assert answer["inReplyTo"] == sent.json()["userMessage"]["id"]


def test_sessions_and_their_history_survive_a_restart(server_factory: Callable[..., ServerProcess]) -> None:
    proc = server_factory({"ELIZA_JWT_SECRET": "sessions-secret-of-at-least-32-bytes!"})
    agent, user = eliza(proc.url), new_id()
    created = httpx.post(
        f"{proc.url}{API}",
        json={
            "agentId": agent,
            "userId": user,
            "metadata": {"plan": "pro"},
            "timeoutConfig": {"timeoutMinutes": 45},
        },
    ).json()
    sid = created["sessionId"]
    first = httpx.post(
        f"{proc.url}{API}/{sid}/messages", json={"content": "remember me", "transport": "http"}, timeout=30
    )
    assert first.status_code == 201
    before = httpx.get(f"{proc.url}{API}/{sid}").json()
    proc.restart()
    after = httpx.get(f"{proc.url}{API}/{sid}")
    assert after.status_code == 200
    info = after.json()
    for key in ("sessionId", "channelId", "agentId", "userId", "createdAt", "expiresAt", "metadata", "timeoutConfig"):
        assert info[key] == before[key], key
    assert info["timeoutConfig"]["timeoutMinutes"] == 45 and info["renewalCount"] == 1
    history = httpx.get(f"{proc.url}{API}/{sid}/messages").json()["messages"]
    assert [m["isAgent"] for m in history] == [True, False] and history[1]["content"] == "remember me"
    again = httpx.post(
        f"{proc.url}{API}/{sid}/messages", json={"content": "still there?", "transport": "http"}, timeout=30
    )
    assert again.status_code == 201 and again.json()["agentResponse"]["text"].strip()
    as_user = {
        "Authorization": "Bearer "
        + jwt.encode({"sub": user}, "sessions-secret-of-at-least-32-bytes!", algorithm="HS256")
    }
    assert [s["sessionId"] for s in httpx.get(f"{proc.url}{API}", headers=as_user).json()["sessions"]] == [sid]
