"""Replay on rejoin (issue 12), with the official JavaScript socket.io-client in the seed's dialect (no
handshake auth, ``roomId``): a client that comes back joins with ``lastSeq`` (or ``lastMessageId``)
and gets what it missed, in order, ``replayed: true``, then live messages, each exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.conftest import new_id
from tests.e2e.helpers import join, send, sent, two_nodes
from tests.support.node import NodeClient
from tests.support.server import ServerProcess


async def joined(clients: Any, url: str, room: str, entity: str, **extra: Any) -> tuple[NodeClient, Any]:
    client = await clients(url)
    await client.connected()
    ack = await client.call("message", join(room, entity, **extra))
    return client, ack


async def say(client: NodeClient, room: str, sender: str, *texts: str) -> list[int]:
    """Send each text, waiting for its ack; their offsets."""
    return [ack["seq"] for ack in await sent(client, room, sender, *texts)]


def broadcasts(client: NodeClient, room: str, senders: set[str]) -> list[dict[str, Any]]:
    return [m for m in client.events("messageBroadcast") if m["channelId"] == room and m["senderId"] in senders]


class Talker:
    """Bob talks in bursts of ten until stopped, so his messages are in flight before, during and after a
    join, however fast or slow the machine: some race the replay, some surely arrive after it."""

    def __init__(self, client: NodeClient, room: str, sender: str) -> None:
        self.client, self.room, self.sender = client, room, sender
        self.sent = 0
        self.started = asyncio.Event()
        self._last: int | None = None
        self._task = asyncio.create_task(self._talk())

    async def _talk(self) -> None:
        while self._last is None or self.sent < self._last:
            texts = [f"racing {self.sent + i}" for i in range(10)]
            await self.client.burst("message", [send(self.room, self.sender, t) for t in texts])
            self.sent += 10
            self.started.set()

    async def stop(self) -> int:
        """Two more bursts after now, then stop; how many were sent in all."""
        self._last = self.sent + 20
        await self._task
        return self.sent


async def test_a_client_that_rejoins_with_last_seq_gets_what_it_missed_in_order_then_live(
    server: ServerProcess, clients: Any
) -> None:
    room, ann, bob = new_id(), new_id(), new_id()
    bob_socket, _ = await joined(clients, server.url, room, bob)
    ann_socket, _ = await joined(clients, server.url, room, ann)
    assert await say(bob_socket, room, bob, "one", "two") == [1, 2]
    await ann_socket.event("messageBroadcast", where=lambda m: m["text"] == "two")
    assert [m["seq"] for m in broadcasts(ann_socket, room, {bob})] == [1, 2]
    await ann_socket.close()  # the tab sleeps

    assert await say(bob_socket, room, bob, "three", "four", "five") == [3, 4, 5]
    back, ack = await joined(clients, server.url, room, ann, lastSeq=2)
    joined_event = await back.event("channel_joined")
    for summary in (ack, joined_event):
        assert (summary["missed"], summary["replayed"], summary["truncated"], summary["lastSeq"]) == (3, 3, False, 5)
    assert await say(bob_socket, room, bob, "six") == [6]
    await back.event("messageBroadcast", where=lambda m: m["text"] == "six")
    got = broadcasts(back, room, {bob})
    assert [(m["text"], m["seq"], m.get("replayed", False)) for m in got] == [
        ("three", 3, True),
        ("four", 4, True),
        ("five", 5, True),
        ("six", 6, False),
    ]


async def test_a_rejoin_with_nothing_missed_replays_nothing(server: ServerProcess, clients: Any) -> None:
    room, ann, bob = new_id(), new_id(), new_id()
    bob_socket, _ = await joined(clients, server.url, room, bob)
    await say(bob_socket, room, bob, "one")
    back, ack = await joined(clients, server.url, room, ann, lastSeq=1)
    assert (ack["missed"], ack["replayed"], ack["truncated"], ack["lastSeq"]) == (0, 0, False, 1)
    await say(bob_socket, room, bob, "two")  # the positive control: live messages still arrive
    await back.event("messageBroadcast", where=lambda m: m["text"] == "two")
    assert [(m["seq"], m.get("replayed", False)) for m in broadcasts(back, room, {bob})] == [(2, False)]
    plain, plain_ack = await joined(clients, server.url, room, new_id())  # no lastSeq: no summary, no replay
    assert "missed" not in plain_ack
    await say(bob_socket, room, bob, "three")
    await plain.event("messageBroadcast", where=lambda m: m["text"] == "three")
    assert [m["text"] for m in broadcasts(plain, room, {bob})] == ["three"]


async def test_more_missed_than_the_replay_max_sends_the_newest(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    node = server_factory({"ELIZA_REPLAY_MAX": "3"})
    room, ann, bob = new_id(), new_id(), new_id()
    bob_socket, _ = await joined(clients, node.url, room, bob)
    await say(bob_socket, room, bob, *(f"m{i}" for i in range(1, 9)))
    back, ack = await joined(clients, node.url, room, ann, lastSeq=1)
    assert (ack["missed"], ack["replayed"], ack["truncated"], ack["lastSeq"]) == (7, 3, True, 8)
    await say(bob_socket, room, bob, "live")
    await back.event("messageBroadcast", where=lambda m: m["text"] == "live")
    assert [(m["seq"], m.get("replayed", False)) for m in broadcasts(back, room, {bob})] == [
        (6, True),
        (7, True),
        (8, True),
        (9, False),
    ]


async def test_a_rejoin_by_last_message_id(server: ServerProcess, clients: Any) -> None:
    room, ann, bob = new_id(), new_id(), new_id()
    bob_socket, _ = await joined(clients, server.url, room, bob)
    await say(bob_socket, room, bob, "one", "two", "three")
    second = await bob_socket.event("messageBroadcast", where=lambda m: m["text"] == "two")
    back, ack = await joined(clients, server.url, room, ann, lastMessageId=second["id"])
    assert (ack["missed"], ack["replayed"], ack["lastSeq"]) == (1, 1, 3)
    message = await back.event("messageBroadcast", where=lambda m: m["senderId"] == bob)
    assert (message["text"], message["seq"], message["replayed"]) == ("three", 3, True)


async def test_bad_resume_points_are_refused_by_name(server: ServerProcess, clients: Any) -> None:
    room, ann, bob = new_id(), new_id(), new_id()
    bob_socket, _ = await joined(clients, server.url, room, bob)
    await say(bob_socket, room, bob, "one")
    client = await clients(server.url)
    await client.connected()
    for extra, field, words in (
        ({"lastSeq": -1}, "lastSeq", "whole number"),
        ({"lastSeq": "latest"}, "lastSeq", "whole number"),
        ({"lastMessageId": new_id()}, "lastMessageId", "is not a message of channel"),
        ({"lastMessageId": "nope"}, "lastMessageId", "must be a UUID"),
    ):
        ack = await client.call("message", join(room, ann, **extra))
        assert ack["success"] is False and ack["field"] == field and words in ack["error"], (extra, ack)
    other_room = new_id()  # an id from another channel is no resume point here
    elsewhere = await say(bob_socket, other_room, bob, "elsewhere")
    assert elsewhere == [1]
    other = await bob_socket.event("messageBroadcast", where=lambda m: m["text"] == "elsewhere")
    ack = await client.call("message", join(room, ann, lastMessageId=other["id"]))
    assert ack["success"] is False and ack["field"] == "lastMessageId"


async def test_live_messages_racing_the_replay_arrive_once_and_after_it(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    """Bob keeps talking while Ann rejoins with hundreds missed: every message reaches her once, the
    replayed ones first, all in seq order, and the ones sent during her join arrive live."""
    node = server_factory({"ELIZA_REPLAY_MAX": "1000"})
    room, ann, bob = new_id(), new_id(), new_id()
    bob_socket, _ = await joined(clients, node.url, room, bob)
    await bob_socket.burst("message", [send(room, bob, f"old {i}") for i in range(400)])
    talker = Talker(bob_socket, room, bob)
    await talker.started.wait()  # Bob's messages are being stored and broadcast while Ann's replay is read
    back, ack = await joined(clients, node.url, room, ann, lastSeq=0)
    sent = await talker.stop()
    assert ack["truncated"] is False and ack["replayed"] == ack["missed"] >= 400
    await back.event("messageBroadcast", where=lambda m: m["text"] == f"racing {sent - 1}")
    await say(bob_socket, room, bob, "after")
    await back.event("messageBroadcast", where=lambda m: m["text"] == "after")
    got = broadcasts(back, room, {bob})
    seqs = [m["seq"] for m in got]
    assert seqs == list(range(1, 400 + sent + 2)), "each message once, in seq order"
    flags = [m.get("replayed", False) for m in got]
    assert flags == sorted(flags, reverse=True), "every replayed message before any live one"
    assert flags.count(True) == ack["replayed"] and ack["lastSeq"] == ack["replayed"]
    assert any(m["text"].startswith("racing") for m in got if not m.get("replayed"))  # some did race live


async def test_a_rejoin_on_another_node_replays_and_holds_that_nodes_live_messages(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    """Two nodes on one PostgreSQL and Redis: Ann comes back on node B while Bob talks on node A."""
    async with two_nodes(server_factory) as (a, b):
        room, ann, bob = new_id(), new_id(), new_id()
        bob_socket, _ = await joined(clients, a.url, room, bob)
        ann_socket, _ = await joined(clients, a.url, room, ann)
        await say(bob_socket, room, bob, "one")
        await ann_socket.event("messageBroadcast", where=lambda m: m["text"] == "one")
        await ann_socket.close()
        await bob_socket.burst("message", [send(room, bob, f"missed {i}") for i in range(300)])
        talker = Talker(bob_socket, room, bob)
        await talker.started.wait()
        back, ack = await joined(clients, b.url, room, ann, lastSeq=1)
        sent = await talker.stop()
        await back.event("messageBroadcast", where=lambda m: m["text"] == f"racing {sent - 1}", timeout=20)
        got = broadcasts(back, room, {bob})
        assert [m["seq"] for m in got] == list(range(2, 302 + sent)), "each message once, in seq order"
        flags = [m.get("replayed", False) for m in got]
        assert flags == sorted(flags, reverse=True), "every replayed message before any live one"
        assert flags.count(True) == ack["replayed"] >= 300
        assert any(m["text"].startswith("racing") for m in got if not m.get("replayed"))  # some did race live


async def test_the_joins_isolation_rules_apply_before_any_replay(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    """With data isolation, an outsider rejoining with lastSeq is refused and hears nothing replayed."""
    node = server_factory({"ENABLE_DATA_ISOLATION": "true"})
    room, alice, mallory = new_id(), new_id(), new_id()
    owner = await clients(node.url, auth={"entityId": alice})
    await owner.connected()
    assert (await owner.call("message", join(room, alice)))["success"] is True  # the first participant
    await say(owner, room, alice, "private 1", "private 2")
    outsider = await clients(node.url, auth={"entityId": mallory})
    await outsider.connected()
    ack = await outsider.call("message", join(room, mallory, lastSeq=0))
    assert ack["success"] is False and ack["code"] == "FORBIDDEN"
    member = await clients(node.url, auth={"entityId": alice})  # positive control: a participant is replayed to
    await member.connected()
    assert (await member.call("message", join(room, alice, lastSeq=0)))["replayed"] == 2
    await outsider.quiet()
    assert outsider.events("messageBroadcast") == []
