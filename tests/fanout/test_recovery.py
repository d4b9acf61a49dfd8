"""Connection-state recovery's packet log and sessions, at their bounds: in memory and in Redis.

The end-to-end behaviour (socket.io-client 4.8 recovering on one node and across nodes) is in
tests/e2e/test_recovery.py; here are the limits (count and age) and what each broadcast carries.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from redis.asyncio import Redis

from eliza_messaging.fanout import recovery
from eliza_messaging.fanout.recovery import MemorySessions, PacketLog, offset_key, pid_parts, with_offset
from eliza_messaging.fanout.redis_sessions import RedisSessions
from eliza_messaging.fanout.socketio import (
    close_client_manager,
    create_client_manager,
    log_stream,
    start_client_manager,
)
from tests.fanout.test_broadcast import FakeEngineSocket, _drain, _server_with
from tests.support.redis_env import REDIS_TEST_URL, redis_prefix


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(recovery.time, "monotonic", fake)
    return fake


def test_offsets_compare_as_pairs_and_strangers_are_refused() -> None:
    assert offset_key("1733480000000-2") == (1733480000000, 2)
    assert offset_key("0-10") > offset_key("0-9")  # type: ignore[operator]
    for bad in ("", "abc", "1-x", "-1", "1" * 60):
        assert offset_key(bad) is None
    assert with_offset('2["e",{"a":1}]', "0-3") == '2["e",{"a":1},"0-3"]'
    assert pid_parts("node.sid.secret") == ("node", "sid")
    assert pid_parts("node.sid") is None and pid_parts("a..b") is None


def test_the_log_keeps_at_most_its_count(clock: Clock) -> None:
    log = PacketLog(120, max_packets=3)
    offsets = [log.append(f"2[{i}]", "room", None) for i in range(5)]
    assert len(log) == 3
    assert not log.has(offsets[1]) and log.has(offsets[2])
    assert [o for o, _ in log.after(offsets[2], {"room"})] == offsets[3:]


def test_the_log_forgets_what_is_older_than_the_window(clock: Clock) -> None:
    log = PacketLog(10, max_packets=100)
    old = log.append("2[0]", "room", None)
    clock.now += 5
    mid = log.append("2[1]", "room", None)
    clock.now += 6  # the first is 11 s old now
    assert not log.has(old) and log.has(mid)
    assert len(log) == 1


def test_what_was_missed_is_what_the_rooms_were_sent_less_what_skipped_the_socket(clock: Clock) -> None:
    log = PacketLog(120)
    start = log.append("2[0]", "a", None)
    log.append("2[1]", "b", None)  # another room
    log.append("2[2]", "a", "me")  # skipped me (my own message)
    log.append("2[3]", "a", ["other"])
    log.append("2[4]", None, None)  # everyone
    log.append("2[5]", "me", None)  # to my sid's room
    assert [t for _, t in log.after(start, {"a", "me"})] == ["2[3]", "2[4]", "2[5]"]


async def test_a_session_is_claimed_once_within_the_window_with_a_logged_offset(clock: Clock) -> None:
    log = PacketLog(10)
    sessions = MemorySessions(log)
    offset = log.append("2[0]", "a", None)
    pid = sessions.new_pid("sid1")
    await sessions.save(pid, {"sid": "sid1", "rooms": {"a": None}})
    assert await sessions.claim(pid, "0-999") is None  # an offset the log never had
    await sessions.save(pid, {"sid": "sid1", "rooms": {"a": None}})
    assert (await sessions.claim(pid, offset) or {})["sid"] == "sid1"
    assert await sessions.claim(pid, offset) is None  # once
    await sessions.save(pid, {"sid": "sid1"})
    clock.now += 11
    assert await sessions.claim(pid, offset) is None  # past the window
    assert len(sessions) == 0


async def test_saved_sessions_are_bounded_in_number(clock: Clock) -> None:
    sessions = MemorySessions(PacketLog(120), max_sessions=3)
    pids = [sessions.new_pid(f"s{i}") for i in range(5)]
    for pid in pids:
        await sessions.save(pid, {"sid": pid})
    assert len(sessions) == 3  # the oldest two went


async def test_a_logged_broadcast_carries_its_offset_in_one_shared_packet_and_legacy_sockets_get_none() -> None:
    manager = create_client_manager(recovery_window_s=60)
    server, sids, sockets = await _server_with(manager, 3)
    legacy = sockets[2]
    legacy.protocol = 3  # type: ignore[attr-defined]  # an Engine.IO 3 session (socket.io-client 1.x/2.x)
    await manager.emit("messageBroadcast", {"text": "hi"}, "/", room="room", logged=True)
    await manager.emit("messageAck", {"ok": True}, "/", room=sids[0])  # to one socket: not logged
    modern = [_drain(s.queue) for s in sockets[:2]]
    assert modern[0][0] is modern[1][0], "one packet for every Engine.IO 4 recipient"
    assert modern[0][0].data == '2["messageBroadcast",{"text":"hi"},"0-1"]'
    assert modern[0][0].offset == "0-1"
    assert modern[0][1].data == '2["messageAck",{"ok":true}]'
    assert [p.data for p in _drain(legacy.queue)] == ['2["messageBroadcast",{"text":"hi"}]']
    assert len(manager.packet_log) == 1
    del server


async def test_without_recovery_nothing_is_logged_or_appended() -> None:
    manager = create_client_manager()
    _, _, sockets = await _server_with(manager, 1)
    await manager.emit("messageBroadcast", {"text": "hi"}, "/", room="room", logged=True)
    assert [p.data for p in _drain(sockets[0].queue)] == ['2["messageBroadcast",{"text":"hi"}]']


async def _redis_server(prefix: str, *, window_s: float, log_max: int) -> Any:
    manager = create_client_manager(REDIS_TEST_URL, prefix=prefix, recovery_window_s=window_s, recovery_log_max=log_max)
    server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    await start_client_manager(server)
    return server


async def test_the_redis_log_is_a_stream_bounded_in_count_and_every_node_hears_the_offset() -> None:
    async with redis_prefix() as prefix:
        server = await _redis_server(prefix, window_s=60, log_max=5)
        manager = server.manager
        redis = Redis.from_url(REDIS_TEST_URL)
        sessions = RedisSessions(
            REDIS_TEST_URL, prefix, node_id="n1", stream=log_stream(prefix), window_s=60, log_max=5
        )
        try:
            sid = await manager.pre_connect("eio0", "/")
            await manager.connect(sid, "/")
            await manager.enter_room(sid, "/", "room")
            socket = FakeEngineSocket()
            server.eio.sockets["eio0"] = socket
            for i in range(12):
                await manager.emit("messageBroadcast", {"n": i}, "/", room="room", logged=True)
            received: list[Any] = []
            async with asyncio.timeout(5):
                while len(received) < 12:  # delivered through the subscription, this node included
                    received.append(await socket.queue.get())
            offsets = [p.offset for p in received]
            assert [p.data for p in received] == [
                with_offset(f'2["messageBroadcast",{{"n":{i}}}]', o) for i, o in enumerate(offsets)
            ]
            assert offsets == sorted(offsets, key=offset_key), "in the stream's order"
            assert await redis.xlen(log_stream(prefix)) == 5
            missed = await sessions.missed(offsets[8], {"room"})
            assert [o for o, _ in missed] == offsets[9:]
            # a session whose offset the cap pushed out is not recovered; one still logged is, once
            for offset, expected in ((offsets[3], None), (offsets[8], "sidA")):
                pid = sessions.new_pid("sidA")
                await sessions.save(pid, {"sid": "sidA", "rooms": {"room": None}})
                found = await sessions.claim(pid, offset)
                assert (found or {}).get("sid") == expected
                assert await sessions.claim(pid, offset) is None
        finally:
            await sessions.close()
            await redis.aclose()
            await close_client_manager(server)


async def test_the_redis_log_forgets_what_is_older_than_the_window() -> None:
    async with redis_prefix() as prefix:
        server = await _redis_server(prefix, window_s=1, log_max=100)
        redis = Redis.from_url(REDIS_TEST_URL)
        try:
            for i in range(3):
                await server.manager.emit("e", {"n": i}, "/", room="room", logged=True)
            await asyncio.sleep(1.2)
            await server.manager.emit("e", {"n": 3}, "/", room="room", logged=True)
            entries = await redis.xrange(log_stream(prefix))
            assert len(entries) == 1 and b'{"n":3}' in entries[0][1][b"t"]
        finally:
            await redis.aclose()
            await close_client_manager(server)
