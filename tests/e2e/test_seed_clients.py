"""The seed guide's own clients, unchanged, against a real server: they see their broadcast and the ack."""

from __future__ import annotations

import json

import pytest

from tests.conftest import new_id
from tests.support.node import run_script
from tests.support.server import ServerProcess


@pytest.mark.parametrize("transports", ["polling,websocket", "websocket", "polling"])
async def test_seed_minimal_client_sees_its_broadcast_and_the_ack(server: ServerProcess, transports: str) -> None:
    room, entity = new_id(), new_id()
    out = await run_script(
        "seed_minimal_client.js",
        {
            "SOCKET_URL": server.url,
            "ROOM_ID": room,
            "ENTITY_ID": entity,
            "TRANSPORTS": transports,
            "SEND_AFTER_MS": "200",
            "EXIT_AFTER_MS": "1500",
        },
    )
    assert "[SUCCESS] Connected to Eliza" in out
    assert "[SUCCESS] Connection established" in out
    assert "[SUCCESS] Message is for our room!" in out, out
    assert "Text: Hello from extension!" in out
    assert "Sender: Extension User" in out
    received = [
        json.loads(line.split("[RECEIVE] Event: ", 1)[1])
        for line in out.splitlines()
        if line.startswith("[RECEIVE] Event: ")
    ]
    names = [event for event, *_ in received]
    assert names.index("channel_joined") < names.index("messageBroadcast") < names.index("messageAck")
    ack = next(payload for event, payload in received if event == "messageAck")
    broadcast = next(payload for event, payload in received if event == "messageBroadcast")
    assert ack["messageId"] == broadcast["id"]
    assert ack["clientMessageId"] == broadcast["clientMessageId"]
    assert broadcast["roomId"] == broadcast["channelId"] == room
    assert broadcast["senderId"] == entity


async def test_seed_minimal_client_with_placeholder_ids_is_told_what_to_fix(server: ServerProcess) -> None:
    out = await run_script(
        "seed_minimal_client.js", {"SOCKET_URL": server.url, "SEND_AFTER_MS": "100", "EXIT_AFTER_MS": "1000"}
    )
    errors = [
        json.loads(line.split("[RECEIVE] Event: ", 1)[1])[1]
        for line in out.splitlines()
        if line.startswith('[RECEIVE] Event: ["messageError"')
    ]
    assert len(errors) == 2  # the join and the send: one each, naming every wrong field at once
    joined, sent = errors
    assert all(e["field"] == "roomId" and e["code"] == "INVALID_PAYLOAD" for e in errors)
    assert joined["fields"] == ["roomId", "entityId"]
    assert sent["fields"] == ["roomId", "senderId"]
    assert "roomId must be a UUID" in joined["error"] and "'your-room-id'" in joined["error"]
    assert "entityId must be a UUID" in joined["error"] and "'your-extension-entity-id'" in joined["error"]
    assert "senderId must be a UUID" in sent["error"] and "'your-extension-entity-id'" in sent["error"]


async def test_seed_eliza_socket_client_class_receives_its_message(server: ServerProcess) -> None:
    room, entity = new_id(), new_id()
    out = await run_script(
        "eliza_socket_client.js",
        {
            "SOCKET_URL": server.url,
            "ROOM_ID": room,
            "ENTITY_ID": entity,
            "TEXT": "hi from the class",
            "EXIT_AFTER_MS": "1500",
        },
    )
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    received = [entry["data"] for entry in lines if entry["kind"] == "received"]
    assert [m["text"] for m in received] == ["hi from the class"]
    events = [entry["data"]["eventName"] for entry in lines if entry["kind"] == "event"]
    assert "connection_established" in events and "messageAck" in events


async def test_eliza17_client_is_authenticated_joins_and_gets_callback_acks(server: ServerProcess) -> None:
    channel, entity = new_id(), new_id()
    out = await run_script(
        "eliza17_client.js",
        {"SOCKET_URL": server.url, "CHANNEL_ID": channel, "ENTITY_ID": entity, "IS_DM": "1", "EXIT_AFTER_MS": "1500"},
    )
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    events = {e["data"]["event"]: e["data"]["args"][0] for e in lines if e["kind"] == "event"}
    assert events["authenticated"]["entityId"] == entity
    assert events["channel_joined"]["channelId"] == channel
    join_ack = next(e["data"] for e in lines if e["kind"] == "join_ack")
    send_ack = next(e["data"] for e in lines if e["kind"] == "send_ack")
    assert join_ack["success"] is True and join_ack["channelId"] == channel
    assert send_ack["success"] is True
    assert send_ack["messageId"] == events["messageBroadcast"]["id"]
    assert send_ack["clientMessageId"] == events["messageAck"]["clientMessageId"]
    assert events["messageBroadcast"]["messageServerId"] == "00000000-0000-0000-0000-000000000000"
