"""The user's control over the memory, on a real server over SQLite and over PostgreSQL: a channel's
export (JSON Lines, streamed, every field), forgetting an entity (its messages gone everywhere, the
rooms told, seen by the official socket.io-client 4.x), and retention (older messages removed by a
background task, nothing newer touched, off by default)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from eliza_messaging.records import Channel, Message, MessageServer
from tests.conftest import new_id
from tests.e2e.conftest import Database
from tests.e2e.helpers import join, send
from tests.e2e.test_memory import history
from tests.e2e.test_tokens import SECRET, SERVER_TOKEN, bearer, token
from tests.support.server import ServerProcess

DEFAULT = "00000000-0000-0000-0000-000000000000"
DAY_MS = 86_400_000
SEED_BATCH = 250
EXPORT_FIELDS = {
    "id", "channelId", "messageServerId", "seq", "authorId", "authorName", "content", "rawMessage",
    "inReplyToRootMessageId", "sourceType", "sourceId", "metadata", "clientMessageId", "createdAt", "updatedAt",
}  # fmt: skip


async def seed(database: Database, channel_id: str, times: list[int], *, author: str | None = None) -> list[Message]:
    """Messages stored straight into the database, with the given creation times (before a server starts)."""
    store = database.store()
    await store.open()
    try:
        await store.ensure_message_server(MessageServer(id=DEFAULT, name="Default", source_type="test"))
        await store.ensure_channel(Channel(id=channel_id, message_server_id=DEFAULT, name="seeded", type="GROUP"))
        messages = [
            Message(
                id=new_id(),
                channel_id=channel_id,
                author_id=author or new_id(),
                author_name="Seed",
                content=f"seeded {i}",
                source_type="test",
                created_at=at,
                updated_at=at,
                raw_message={"serverId": DEFAULT},
                metadata={"i": i},
            )
            for i, at in enumerate(times)
        ]
        stored: list[Message] = []
        for start in range(0, len(messages), SEED_BATCH):  # concurrent appends share a commit
            chunk = messages[start : start + SEED_BATCH]
            stored += [s.message for s in await asyncio.gather(*(store.append_message(m) for m in chunk))]
        return sorted(stored, key=lambda m: m.seq)
    finally:
        await store.close()


async def settled(read: Callable[[], Any], expected: Any, *, within_s: float = 20.0) -> Any:
    """What ``read`` gives once it gives ``expected``, or its last answer after ``within_s``."""
    value = read()
    for _ in range(int(within_s / 0.1)):
        if value == expected:
            break
        await asyncio.sleep(0.1)
        value = read()
    return value


def export(url: str, channel_id: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(f"{url}/api/messaging/channels/{channel_id}/export", timeout=30, **kwargs)


async def test_a_channel_exports_as_json_lines_with_every_field(
    database: Database, server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    room = new_id()
    seeded = await seed(database, room, [1_000 + i for i in range(1_100)])  # more than two pages of the store
    proc = database.start(server_factory)
    client = await clients(proc.url)
    await client.connected()
    me = new_id()
    await client.call("message", join(room, me))
    ack = await client.call("message", send(room, me, 'live "quoted"\nline', metadata={"mood": "ok"}))

    with httpx.stream("GET", f"{proc.url}/api/messaging/channels/{room}/export", timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        assert f'filename="channel-{room}.jsonl"' in response.headers["content-disposition"]
        assert "content-length" not in response.headers  # streamed, not built whole
        lines = [line for line in response.iter_lines() if line]
    rows = [orjson.loads(line) for line in lines]
    assert len(rows) == len(seeded) + 1
    assert [r["seq"] for r in rows] == list(range(1, len(seeded) + 2))  # oldest first, by offset
    assert all(set(r) == EXPORT_FIELDS for r in rows)
    first = rows[0]
    assert first["id"] == seeded[0].id and first["content"] == "seeded 0" and first["metadata"] == {"i": 0}
    assert first["createdAt"] == 1_000 and first["channelId"] == room and first["messageServerId"] == DEFAULT
    last = rows[-1]
    assert last["id"] == ack["messageId"] and last["content"] == 'live "quoted"\nline' and last["authorId"] == me
    assert last["clientMessageId"] == ack["clientMessageId"] and last["metadata"] == {"mood": "ok"}
    assert last["rawMessage"]["senderName"] == "Tester" and last["sourceType"] == "test"

    missing = export(proc.url, new_id())
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    bad = export(proc.url, "nope")
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "channelId"


async def test_export_follows_data_isolation(server_factory: Callable[..., ServerProcess], clients: Any) -> None:
    proc = server_factory({"ENABLE_DATA_ISOLATION": "true", "ELIZA_JWT_SECRET": SECRET})
    me, room = new_id(), new_id()
    client = await clients(proc.url, auth={"token": token(me)})
    await client.connected()
    await client.call("message", join(room, me))
    await client.call("message", send(room, me, "mine"))
    outsider = export(proc.url, room, headers=bearer(new_id()))
    assert outsider.status_code == 403 and outsider.json()["error"]["code"] == "FORBIDDEN"
    assert export(proc.url, room).status_code == 403  # anonymous
    own = export(proc.url, room, headers=bearer(me))
    assert own.status_code == 200 and [orjson.loads(x)["content"] for x in own.text.splitlines()] == ["mine"]


def forget(url: str, entity: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.delete(f"{url}/api/messaging/entities/{entity}/messages", headers=headers or {}, timeout=60)


async def test_forgetting_an_entity_removes_its_messages_everywhere_and_tells_the_rooms(
    database: Database, server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    gone, kept, rooms = new_id(), new_id(), [new_id(), new_id()]
    seeded = await seed(database, rooms[1], [1_000 + i for i in range(1_200)], author=gone)  # several batches
    proc = database.start(server_factory, ELIZA_JWT_SECRET=SECRET, ELIZA_SERVER_AUTH_TOKEN=SERVER_TOKEN)
    watcher = await clients(proc.url, auth={"token": token(kept)})
    await watcher.connected()
    await watcher.call("message", join(rooms[0], kept))
    author = await clients(proc.url, auth={"token": token(gone)})
    await author.connected()
    sent = []
    for room in rooms:
        await author.call("message", join(room, gone))
        sent.append((await author.call("message", send(room, gone, f"forget me in {room}")))["messageId"])
    await watcher.call("message", send(rooms[0], kept, "keep me"))
    server_key = {"X-API-KEY": SERVER_TOKEN}

    someone_else = forget(proc.url, gone, bearer(kept))
    assert someone_else.status_code == 403 and someone_else.json()["error"]["field"] == "entityId"
    assert "Only " + gone + " itself or the server token" in someone_else.json()["error"]["message"]
    assert forget(proc.url, gone).status_code == 401  # nobody: the server token is set
    assert len(read(proc.url, rooms[0], server_key)) == 2  # refusals changed nothing

    answer = forget(proc.url, gone, bearer(gone))  # the entity itself, by its signed token
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True, "data": {"entityId": gone, "deleted": len(seeded) + 2}}
    heard = await watcher.event("messageDeleted", where=lambda e: e["messageId"] == sent[0])
    assert heard == {"messageId": sent[0], "channelId": rooms[0], "roomId": rooms[0]}
    assert [m["content"] for m in read(proc.url, rooms[0], server_key)] == ["keep me"]
    assert read(proc.url, rooms[1], server_key) == []
    again = forget(proc.url, gone, server_key)  # the server token may too; nothing is left
    assert again.json()["data"] == {"entityId": gone, "deleted": 0}


def read(url: str, room: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/messaging/channels/{room}/messages", params={"limit": 1000}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"]["messages"])


async def test_an_anonymous_caller_may_not_forget_anyone(server: ServerProcess) -> None:
    refused = forget(server.url, new_id())
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "FORBIDDEN"
    assert "you have not said who you are" in refused.json()["error"]["message"]
    assert forget(server.url, "nope").json()["error"]["field"] == "entityId"


async def test_retention_removes_only_older_messages(
    database: Database, server_factory: Callable[..., ServerProcess]
) -> None:
    now = int(time.time() * 1000)
    old_room, new_room = new_id(), new_id()
    old = await seed(database, old_room, [now - 30 * DAY_MS + i for i in range(1_500)])  # two batches
    recent = await seed(database, new_room, [now - 6 * DAY_MS, now - DAY_MS])
    edge = await seed(database, old_room, [now - 6 * DAY_MS])  # newer than the cut-off, in the old room

    off = database.start(server_factory)  # off by default: nothing is touched
    await asyncio.sleep(0.5)
    assert len(history(off.url, old_room, limit=1000)) == 1000
    off.stop()

    proc = database.start(server_factory, ELIZA_RETENTION_DAYS="7", ELIZA_RETENTION_INTERVAL="0.2")
    left = await settled(lambda: [m["id"] for m in history(proc.url, old_room, limit=1000)], [edge[0].id])
    assert left == [edge[0].id]
    assert [m["id"] for m in history(proc.url, new_room)] == [m.id for m in reversed(recent)]
    assert len(old) == 1_500
