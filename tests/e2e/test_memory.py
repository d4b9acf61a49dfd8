"""The messaging memory: what was sent can be read back over REST, in ElizaOS's shape, after a restart too."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.server import ServerProcess

DEFAULT_SERVER = "00000000-0000-0000-0000-000000000000"


def history(url: str, room: str, **params: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/messaging/channels/{room}/messages", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return list(body["data"]["messages"])


async def test_history_survives_a_restart(server_factory: Callable[..., ServerProcess], clients: Any) -> None:
    proc = server_factory()
    room, sender = new_id(), new_id()
    client = await clients(proc.url)
    await client.connected()
    await client.call("message", join(room, sender))
    acks = [await client.call("message", send(room, sender, f"m{i}")) for i in range(5)]
    await client.close()
    proc.restart()
    messages = history(proc.url, room)
    assert [m["content"] for m in messages] == ["m4", "m3", "m2", "m1", "m0"]  # newest first
    assert [m["id"] for m in messages] == [a["messageId"] for a in reversed(acks)]
    first = messages[-1]
    assert first["authorId"] == sender and first["channelId"] == room and first["sourceType"] == "test"
    assert first["rawMessage"]["senderName"] == "Tester"
    servers = httpx.get(f"{proc.url}/api/messaging/message-servers").json()["data"]["messageServers"]
    assert [s["id"] for s in servers] == [DEFAULT_SERVER]  # the default server is created once


async def test_history_pages_with_limit_and_before(server: ServerProcess, clients: Any) -> None:
    room, sender = new_id(), new_id()
    client = await clients(server.url)
    await client.connected()
    acks = []
    for i in range(6):
        acks.append(await client.call("message", send(room, sender, f"p{i}")))
        await asyncio.sleep(0.002)  # distinct milliseconds, so each page boundary splits cleanly
    created = [a["createdAt"] for a in acks]
    assert created == sorted(set(created)), created  # the setup, not the check: each message its own ms
    ids = {f"p{i}": a["messageId"] for i, a in enumerate(acks)}

    def contents(page: list[dict[str, Any]]) -> list[str]:
        assert [m["id"] for m in page] == [ids[m["content"]] for m in page]
        return [m["content"] for m in page]

    page = history(server.url, room, limit=2)
    assert contents(page) == ["p5", "p4"]
    older = history(server.url, room, limit=50, before=page[-1]["createdAt"])
    assert contents(older) == ["p3", "p2", "p1", "p0"]  # everything older, newest first, nothing else
    assert [m["createdAt"] for m in older] == created[3::-1]
    assert all(m["createdAt"] < page[-1]["createdAt"] for m in older)
    # paging back two at a time walks the rest exactly once, then comes up empty
    second = history(server.url, room, limit=2, before=page[-1]["createdAt"])
    assert contents(second) == ["p3", "p2"]
    third = history(server.url, room, limit=2, before=second[-1]["createdAt"])
    assert contents(third) == ["p1", "p0"]
    assert history(server.url, room, limit=2, before=third[-1]["createdAt"]) == []


def test_rest_reports_bad_parameters_clearly(server: ServerProcess) -> None:
    bad_id = httpx.get(f"{server.url}/api/messaging/channels/general/messages")
    assert bad_id.status_code == 400
    assert bad_id.json() == {
        "success": False,
        "error": {
            "code": "INVALID_PAYLOAD",
            "message": "channelId must be a UUID, but got 'general'.",
            "field": "channelId",
        },
    }
    huge = httpx.get(f"{server.url}/api/messaging/channels/{new_id()}/messages", params={"limit": "1e20"})
    assert huge.status_code == 400 and huge.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "limit" in huge.json()["error"]["message"]


def test_current_server_ping_and_health(server: ServerProcess) -> None:
    current = httpx.get(f"{server.url}/api/messaging/message-server/current").json()
    assert current == {"success": True, "data": {"messageServerId": DEFAULT_SERVER, "serverId": DEFAULT_SERVER}}
    assert httpx.get(f"{server.url}/api/server/ping").json()["pong"] is True
    health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 200 and health.json()["database"] == "ok"


async def test_dm_metadata_creates_a_dm_channel(server: ServerProcess, clients: Any) -> None:
    client = await clients(server.url)
    await client.connected()
    group_room, dm_room, me = new_id(), new_id(), new_id()
    await client.call("message", join(group_room, me))
    await client.call("message", send(dm_room, me, "psst", metadata={"isDm": True}))
    # a channel first joined without a hint becomes a DM when a message says so
    await client.call("message", send(group_room, me, "now a dm", metadata={"channelType": "DM"}))
    import sqlite3

    db = sqlite3.connect(server.data_dir / "messaging.sqlite3")
    types = dict(db.execute("SELECT id, type FROM channels WHERE id IN (?, ?)", (group_room, dm_room)).fetchall())
    participants = db.execute("SELECT entity_id FROM channel_participants WHERE channel_id = ?", (dm_room,)).fetchall()
    assert types == {group_room: "DM", dm_room: "DM"}
    assert participants == [(me,)]
