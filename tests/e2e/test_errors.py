"""Every mistake the seeds list gets a messageError (and the ack callback) that names the field and the fix,
and the server keeps serving everyone."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.server import ServerProcess

ROOM = new_id()
SENDER = new_id()


def _send(**changes: Any) -> dict[str, Any]:
    message = send(ROOM, SENDER, "hello")
    for key, value in changes.items():
        if value is ...:
            del message["payload"][key]
        else:
            message["payload"][key] = value
    return message


def _deep(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(levels):
        value = {"a": value}
    return value


CASES: list[tuple[str, str, Any, str | None, str]] = [
    ("not an object", "message", "hello", "payload", "must carry an object"),
    ("no type", "message", {"payload": {}}, "type", "has no type"),
    ("unknown type", "message", {"type": 9, "payload": {}}, "type", "Unknown message type the number 9"),
    ("server-only type", "message", {"type": 4, "payload": {}}, "type", "sent by the server"),
    ("type a superscript digit", "message", {"type": "²", "payload": {}}, "type", "Unknown message type"),
    ("type a huge number", "message", {"type": "9" * 5000, "payload": {}}, "type", "Unknown message type"),
    ("no payload", "message", {"type": 2}, "payload", "has no payload"),
    ("payload not an object", "message", {"type": 2, "payload": "hi"}, "payload", "must be an object"),
    ("no room", "message", _send(roomId=...), "roomId", "has no roomId"),
    ("room not a uuid", "message", _send(roomId="general"), "roomId", "roomId must be a UUID"),
    ("sender missing", "message", _send(senderId=...), "senderId", "senderId is missing"),
    ("sender not a uuid", "message", _send(senderId="me"), "senderId", "senderId must be a UUID"),
    ("client id too long", "message", _send(messageId="x" * 129), "messageId", "at most 128 printable"),
    ("client id not a string", "message", _send(messageId=42), "messageId", "messageId must be a string"),
    ("server id not a uuid", "message", _send(serverId="main"), "serverId", "serverId must be a UUID"),
    ("unknown server", "message", _send(messageServerId=new_id()), "messageServerId", "is not a message server"),
    ("text missing", "message", _send(message=...), "message", "message is missing"),
    ("text not a string", "message", _send(message=42), "message", "message must be a string"),
    ("text empty", "message", _send(message="   "), "message", "message is empty"),
    ("text too long", "message", _send(message="x" * 100_001), "message", "the limit is 100000"),
    ("NUL in text", "message", _send(message="a\x00b"), "message", "U+0000"),
    ("metadata not an object", "message", _send(metadata=[1]), "metadata", "metadata must be an object"),
    ("metadata too deep", "message", _send(metadata=_deep(200)), "metadata", "nested more than"),
    ("NUL in metadata", "message", _send(metadata={"k\x00": "v"}), "metadata", "U+0000"),
    ("NUL in sender name", "message", _send(senderName="a\x00b"), "senderName", "U+0000"),
    ("attachments not a list", "message", _send(attachments="a.png"), "attachments", "must be an array"),
    ("join without room", "message", {"type": 1, "payload": {"entityId": SENDER}}, "roomId", "has no roomId"),
    ("join entity not a uuid", "message", join(ROOM, "bob"), "entityId", "entityId must be a UUID"),
    ("short send without room", "2", {"senderId": SENDER, "message": "hi"}, "roomId", "has no roomId"),
    ("short join not an object", "1", [ROOM], "payload", "must be an object"),
    ("unknown event", "sendMessage", {"text": "hi"}, "event", "Unknown event 'sendMessage'"),
]


@pytest.mark.parametrize(("event", "data", "field", "phrase"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_bad_input_gets_a_clear_error_by_event_and_callback(
    server: ServerProcess, clients: Any, event: str, data: Any, field: str, phrase: str
) -> None:
    client = await clients(server.url)
    await client.connected()
    ack = await client.call(event, data)
    assert ack["success"] is False
    assert ack["field"] == field
    assert phrase in ack["error"], ack["error"]
    pushed = await client.event("messageError")
    assert pushed["error"] == ack["error"]
    # the same socket keeps working
    ok = await client.call("message", send(new_id(), SENDER, "still fine"))  # one socket speaks as one entity
    assert ok["success"] is True


async def test_typing_with_bad_ids_is_reported(server: ServerProcess, clients: Any) -> None:
    client = await clients(server.url)
    await client.connected()
    await client.emit("typing", {"roomId": "lobby", "userId": new_id(), "isTyping": True})
    error = await client.event("messageError")
    assert error["field"] == "roomId" and "UUID" in error["error"]


async def test_a_frame_over_the_limit_drops_only_that_client(server: ServerProcess, clients: Any) -> None:
    room = new_id()
    bystander, bystander_id = await clients(server.url, transports=["websocket"]), new_id()
    await bystander.connected()
    await bystander.call("message", join(room, bystander_id))
    abuser = await clients(server.url, transports=["websocket"])
    await abuser.connected()
    await abuser.emit("message", send(room, new_id(), "y" * 1_500_000))
    report = await abuser.wait_for(lambda r: r["type"] == "disconnect", timeout=10)
    assert report["reason"] in ("transport close", "transport error")
    ack = await bystander.call("message", send(room, bystander_id, "still here"))
    assert ack["success"] is True
    assert [m["text"] for m in bystander.events("messageBroadcast")] == ["still here"]


async def test_a_wrong_handshake_entity_is_refused_with_a_reason(server: ServerProcess, clients: Any) -> None:
    client = await clients(server.url, auth={"entityId": "not-a-uuid"})
    report = await client.wait_for(lambda r: r["type"] in ("connect", "connect_error"))
    assert report["type"] == "connect_error"
    assert "entityId must be a UUID" in report["message"]
