"""The broadcast manager: one encoded packet per emit, queued on each recipient without a task each.

The sockets here stand in for python-engineio's (its queue, ``closed``, ``last_ping``, ``send``);
every end-to-end test (tests/e2e) runs the manager under real Socket.IO clients of both protocols.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import socketio

from eliza_messaging.fanout.broadcast import BroadcastManager, event_text


class FakeEngineSocket:
    def __init__(self, *, last_ping: float | None = None) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False
        self.last_ping = last_ping
        self.sent_by_send: list[Any] = []

    async def send(self, pkt: Any) -> None:
        self.sent_by_send.append(pkt)


async def _server_with(manager: Any, count: int, **socket_kwargs: Any) -> tuple[Any, list[str], list[FakeEngineSocket]]:
    server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    sids, sockets = [], []
    for i in range(count):
        eio_sid = f"eio{i}"
        sid = await manager.pre_connect(eio_sid, "/")
        await manager.connect(sid, "/")
        await manager.enter_room(sid, "/", "room")
        socket = FakeEngineSocket(**socket_kwargs)
        server.eio.sockets[eio_sid] = socket
        sids.append(sid)
        sockets.append(socket)
    return server, sids, sockets


def _drain(queue: asyncio.Queue[Any]) -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


async def test_a_room_emit_queues_one_shared_packet_and_creates_no_task(monkeypatch: pytest.MonkeyPatch) -> None:
    server, sids, sockets = await _server_with(BroadcastManager(), 3)
    created = 0
    real_create_task = asyncio.create_task

    def counting_create_task(*args: Any, **kwargs: Any) -> Any:
        nonlocal created
        created += 1
        return real_create_task(*args, **kwargs)

    monkeypatch.setattr(asyncio, "create_task", counting_create_task)
    await server.emit("messageBroadcast", {"text": "hi", "n": 1}, room="room", skip_sid=sids[1])

    assert created == 0, "a task was created per recipient"
    got = [_drain(s.queue) for s in sockets]
    assert got[1] == [], "skip_sid was delivered to"
    assert len(got[0]) == 1 and got[0][0] is got[2][0], "each recipient should share one encoded packet"
    assert got[0][0].encode() == '42["messageBroadcast",{"text":"hi","n":1}]'


async def test_a_socket_past_its_ping_deadline_goes_through_engineio_send() -> None:
    """python-engineio's send checks the ping deadline (and closes the socket); a late one is not bypassed."""
    server, _, sockets = await _server_with(BroadcastManager(), 1, last_ping=time.time() - 3600)
    await server.emit("ev", {"a": 1}, room="room")
    assert _drain(sockets[0].queue) == []
    assert [p.encode() for p in sockets[0].sent_by_send] == ['42["ev",{"a":1}]']


async def test_closed_and_unknown_sockets_are_skipped() -> None:
    server, _, sockets = await _server_with(BroadcastManager(), 2)
    sockets[0].closed = True
    del server.eio.sockets["eio1"]
    await server.emit("ev", None, room="room")  # neither raises nor queues
    assert _drain(sockets[0].queue) == [] and _drain(sockets[1].queue) == []


def test_event_text_matches_python_socketio_encoding() -> None:
    for namespace, args in (("/", [{"a": [1, "b"]}]), ("/admin", ["x", 2]), ("/", [])):
        expected = socketio.packet.Packet(socketio.packet.EVENT, namespace=namespace, data=["ev", *args]).encode()
        assert event_text(namespace, "ev", args) == expected


def test_binary_data_is_refused_not_sent_as_attachments() -> None:
    with pytest.raises(TypeError):
        event_text("/", "ev", [b"\x00raw"])


class WatchingServer(socketio.AsyncServer):  # type: ignore[misc]
    """A server that looks at every packet a socket is sent (as holding a replay's broadcasts does)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[tuple[str, str]] = []

    async def _send_eio_packet(self, eio_sid: str, eio_pkt: Any) -> None:
        self.seen.append((eio_sid, eio_pkt.data))
        await super()._send_eio_packet(eio_sid, eio_pkt)


async def _watching_server(manager: Any, count: int) -> tuple[Any, list[FakeEngineSocket]]:
    server = WatchingServer(async_mode="asgi", client_manager=manager)
    sockets = []
    for i in range(count):
        sid = await manager.pre_connect(f"eio{i}", "/")
        await manager.connect(sid, "/")
        await manager.enter_room(sid, "/", "room")
        sockets.append(FakeEngineSocket())
        server.eio.sockets[f"eio{i}"] = sockets[-1]
    return server, sockets


async def test_a_server_that_watches_packets_sees_every_one() -> None:
    server, sockets = await _watching_server(BroadcastManager(), 2)
    await server.emit("ev", {"a": 1}, room="room")
    assert sorted(server.seen) == [("eio0", '2["ev",{"a":1}]'), ("eio1", '2["ev",{"a":1}]')]
    assert all(s.sent_by_send for s in sockets), "the watched packets still reach the sockets"


async def test_a_server_that_names_the_sockets_it_watches_sees_only_theirs() -> None:
    server, sockets = await _watching_server(BroadcastManager(), 2)
    server.sees_packets_of = lambda eio_sid: eio_sid == "eio1"
    await server.emit("ev", {"a": 1}, room="room")
    assert server.seen == [("eio1", '2["ev",{"a":1}]')]
    assert [p.data for p in _drain(sockets[0].queue)] == ['2["ev",{"a":1}]']
