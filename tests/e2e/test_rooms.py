"""Rooms: who hears what, presence, typing, bursts and retries, with real socket.io-client 4.x clients."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.server import ServerProcess


async def joined(clients: Any, url: str, room: str, entity: str | None = None, **options: Any) -> Any:
    client = await clients(url, **options)
    await client.connected()
    ack = await client.call("message", join(room, entity or new_id()))
    assert ack["success"] is True
    return client


async def test_broadcast_reaches_everyone_in_the_room_and_no_one_outside(server: ServerProcess, clients: Any) -> None:
    room_a, room_b, alice_id, carol_id = new_id(), new_id(), new_id(), new_id()
    alice = await joined(clients, server.url, room_a, alice_id)
    bob = await joined(clients, server.url, room_a, transports=["websocket"])
    carol = await joined(clients, server.url, room_b, carol_id, transports=["polling"])
    ack = await alice.call("message", send(room_a, alice_id, "for room a"))
    seen_by_bob = await bob.event("messageBroadcast")
    assert seen_by_bob["text"] == "for room a" and seen_by_bob["id"] == ack["messageId"]
    assert "clientMessageId" not in seen_by_bob  # only the sender's copy carries it
    own = await alice.event("messageBroadcast")
    assert own["clientMessageId"] == ack["clientMessageId"]
    await carol.call("message", send(room_b, carol_id, "for room b"))
    await carol.event("messageBroadcast")
    await bob.quiet()
    # positive control: room a still reaches Bob after room b's message; had that one reached him, it came first
    await alice.call("message", send(room_a, alice_id, "room a again"))
    await bob.event("messageBroadcast", where=lambda m: m["text"] == "room a again")
    assert [m["text"] for m in bob.events("messageBroadcast")] == ["for room a", "room a again"]
    assert [m["text"] for m in carol.events("messageBroadcast")] == ["for room b"]


async def test_both_dialects_meet_in_one_room(server: ServerProcess, clients: Any) -> None:
    channel, web_user = new_id(), new_id()
    seed = await joined(clients, server.url, channel)
    modern = await clients(server.url, auth={"entityId": web_user}, transports=["websocket"])
    await modern.connected()
    assert (await modern.event("authenticated"))["entityId"] == web_user
    ack = await modern.call(
        "message",
        {"type": 1, "payload": {"channelId": channel, "messageServerId": "00000000-0000-0000-0000-000000000000"}},
    )
    assert ack["roomId"] == channel
    # eliza17 send with no senderId: the handshake entity is the sender
    await modern.call(
        "2",
        {
            "channelId": channel,
            "message": "from 1.7",
            "messageServerId": "00000000-0000-0000-0000-000000000000",
            "messageId": new_id(),
        },
    )
    got = await seed.event("messageBroadcast")
    assert got["senderId"] == web_user and got["roomId"] == got["channelId"] == channel
    assert got["serverId"] == got["messageServerId"] == "00000000-0000-0000-0000-000000000000"


async def test_presence_joined_and_left_on_disconnect(server: ServerProcess, clients: Any) -> None:
    room, bob_id = new_id(), new_id()
    alice = await joined(clients, server.url, room)
    bob = await joined(clients, server.url, room, bob_id)
    assert (await alice.event("userJoined"))["userId"] == bob_id
    await bob.send({"op": "disconnect"})
    left = await alice.event("userLeft")
    assert left == {"userId": bob_id, "roomId": room, "channelId": room}


async def test_typing_reaches_the_others_but_not_the_typer(server: ServerProcess, clients: Any) -> None:
    room, typer_id = new_id(), new_id()
    typer = await joined(clients, server.url, room, typer_id)
    other_id = new_id()
    other = await joined(clients, server.url, room, other_id)
    await typer.emit("typing", {"roomId": room, "userId": typer_id, "isTyping": True})
    seen = await other.event("userTyping")
    assert seen["userId"] == typer_id and seen["isTyping"] is True and seen["channelId"] == room
    await typer.quiet()
    # positive control: the typer hears the other's typing, which the server sent after (not before) its own
    await other.emit("typing", {"roomId": room, "userId": other_id, "isTyping": True})
    await typer.event("userTyping", where=lambda t: t["userId"] == other_id)
    assert [t["userId"] for t in typer.events("userTyping")] == [other_id]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"]])
async def test_a_burst_of_100_arrives_complete_and_in_order(
    server: ServerProcess, clients: Any, transports: list[str]
) -> None:
    room, sender_id = new_id(), new_id()
    sender = await joined(clients, server.url, room, sender_id, transports=transports)
    reader = await joined(clients, server.url, room)
    for i in range(100):
        await sender.emit("message", send(room, sender_id, f"burst {i}"))
    for _ in range(100):
        await reader.event("messageBroadcast")
    assert [m["text"] for m in reader.events("messageBroadcast")] == [f"burst {i}" for i in range(100)]
    for _ in range(100):
        await sender.event("messageAck")
    assert len({a["messageId"] for a in sender.events("messageAck")}) == 100


async def test_a_retry_with_the_same_message_id_is_stored_once_and_not_rebroadcast(
    server: ServerProcess, clients: Any
) -> None:
    room, sender_id = new_id(), new_id()
    sender = await joined(clients, server.url, room, sender_id)
    reader = await joined(clients, server.url, room)
    message = send(room, sender_id, "only once")
    first = await sender.call("message", message)
    second = await sender.call("message", message)
    assert second["messageId"] == first["messageId"] and second["duplicate"] is True
    assert second["createdAt"] == first["createdAt"]
    await reader.event("messageBroadcast")
    await reader.quiet(0.5)
    # positive control: the next message reaches the reader; a rebroadcast of the retry would have come first
    after = await sender.call("message", send(room, sender_id, "the next one"))
    await reader.event("messageBroadcast", where=lambda m: m["text"] == "the next one")
    assert [m["id"] for m in reader.events("messageBroadcast")] == [first["messageId"], after["messageId"]]
    # the sender gets its own copy again (ElizaOS clients clear a pending message on it)
    own = [m for m in sender.events("messageBroadcast") if m.get("clientMessageId") == first["clientMessageId"]]
    assert len(own) == 2 and {m["id"] for m in own} == {first["messageId"]}
    import httpx

    history = httpx.get(f"{server.url}/api/messaging/channels/{room}/messages").json()["data"]["messages"]
    assert [m["content"] for m in history] == ["the next one", "only once"]


async def test_sending_without_joining_still_hears_the_room(server: ServerProcess, clients: Any) -> None:
    room, sender_id = new_id(), new_id()
    lurker = await clients(server.url)
    await lurker.connected()
    ack = await lurker.call("message", send(room, sender_id, "no join first"))
    assert ack["success"] is True
    member_id = new_id()
    member = await joined(clients, server.url, room, member_id)
    await member.call("message", send(room, member_id, "reply"))
    got = await lurker.event("messageBroadcast", where=lambda m: m["text"] == "reply")
    assert got["roomId"] == room


async def test_a_client_message_id_may_be_any_short_string(server: ServerProcess, clients: Any) -> None:
    room, sender_id = new_id(), new_id()
    sender = await joined(clients, server.url, room, sender_id)
    message = send(room, sender_id, "opaque id", messageId="temp-123")
    first = await sender.call("message", message)
    again = await sender.call("message", message)
    assert first["success"] and first["clientMessageId"] == "temp-123"
    assert again["duplicate"] is True and again["messageId"] == first["messageId"]
