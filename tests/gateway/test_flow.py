"""The pieces that keep a socket's flow in order and bounded, each on its own (the e2e tests drive them whole)."""

from __future__ import annotations

import asyncio
import types
from typing import Any

import pytest
from engineio import packet as eio_packet

from eliza_messaging.gateway.flow import FloodGuard, Refusal, SocketLanes, packet_header
from eliza_messaging.gateway.ip_limit import ConnectionsPerAddress, client_address
from eliza_messaging.gateway.outbuffer import MeteredQueue, TimedWebSocket, WriteWatch, wire_size


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_guard_admits_a_burst_then_tells_once_per_interval() -> None:
    clock = Clock()
    guard = FloodGuard(rate_per_s=10, burst=3, clock=clock)
    assert [guard.check("a") for _ in range(3)] == [None, None, None]
    first = guard.check("a")
    assert first is not None and first.notify and not first.expel and first.retry_after_ms > 0
    again = guard.check("a")
    assert again is not None and not again.notify  # already told in this interval
    assert guard.check("b") is None  # others are not affected
    assert "wait" in guard.message(first) and "10 per second" in guard.message(first)


def first_refusal(guard: FloodGuard, key: str) -> Refusal:
    """Flood ``key``: take every token there is; the first refusal."""
    for _ in range(1000):
        refusal = guard.check(key)
        if refusal is not None:
            return refusal
    raise AssertionError("the guard admitted 1000 events in a row")


def test_the_guard_gives_up_on_a_socket_that_floods_three_intervals_running() -> None:
    clock = Clock()
    guard = FloodGuard(rate_per_s=1, burst=1, clock=clock)
    refusals = []
    for _ in range(3):
        refusals.append(first_refusal(guard, "a"))
        clock.now += 1.0
    assert [(r.notify, r.expel) for r in refusals] == [(True, False), (True, False), (True, True)]
    assert guard.message(refusals[-1]).startswith("Disconnected: this connection kept sending faster than 1")


def test_a_quiet_interval_starts_the_count_again() -> None:
    clock = Clock()
    guard = FloodGuard(rate_per_s=1, burst=1, clock=clock)
    assert first_refusal(guard, "a").notify
    clock.now += 1.0
    assert first_refusal(guard, "a").notify
    clock.now += 2.0  # an interval without refusals between
    refusal = first_refusal(guard, "a")
    assert refusal.notify and not refusal.expel


def test_a_busy_lane_is_refused_even_with_tokens_and_a_zero_rate_refuses_nothing() -> None:
    guard = FloodGuard(rate_per_s=100, burst=100)
    assert guard.check("a", busy=True) is not None
    assert FloodGuard(rate_per_s=0, burst=0).check("a") is None


async def test_a_lane_runs_its_jobs_in_order_while_other_lanes_run_beside_it() -> None:
    lanes = SocketLanes()
    done: list[str] = []
    release = asyncio.Event()

    def job(name: str, gate: asyncio.Event | None = None) -> object:
        async def run() -> None:
            if gate is not None:
                await gate.wait()
            done.append(name)

        return run

    lanes.submit("a", job("a1", release))  # type: ignore[arg-type]
    lanes.submit("a", job("a2"))  # type: ignore[arg-type]
    lanes.submit("b", job("b1"))  # type: ignore[arg-type]
    assert lanes.pending("a") == 2
    for _ in range(5):
        await asyncio.sleep(0)
    assert done == ["b1"]  # b is not held up by a's slow first job, and a2 waits behind a1
    release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert done == ["b1", "a1", "a2"]
    assert lanes.pending("a") == 0 and lanes.pending("b") == 0


async def test_a_failing_job_does_not_stop_its_lane() -> None:
    lanes = SocketLanes()
    done: list[int] = []

    async def fail() -> None:
        raise RuntimeError("boom")

    async def ok() -> None:
        done.append(1)

    lanes.submit("a", fail)
    lanes.submit("a", ok)
    for _ in range(5):
        await asyncio.sleep(0)
    assert done == [1]


def test_packet_headers_are_read_without_decoding_the_json() -> None:
    assert packet_header('2["message",{}]') == packet_header('2["x"]')
    header = packet_header('2["x"]')
    assert (header.kind, header.namespace, header.ack_id) == ("2", "/", None)
    header = packet_header('212["message",{"a":1}]')
    assert (header.namespace, header.ack_id) == ("/", 12)
    header = packet_header('2/chat?x=1,5["x"]')
    assert (header.namespace, header.ack_id) == ("/chat", 5)
    header = packet_header('51-7["message",{"_placeholder":true,"num":0}]')
    assert (header.kind, header.ack_id) == ("5", 7)


async def test_a_metered_queue_overflows_once_drops_what_it_held_and_ends_its_reader() -> None:
    overflows: list[int] = []
    queue = MeteredQueue(10_000, lambda q, held: overflows.append(held))
    small = eio_packet.Packet(eio_packet.MESSAGE, data="x" * 1000)
    for _ in range(5):
        await queue.put(small)
    assert queue.held_bytes == 5 * wire_size(small)
    assert await queue.get() is small
    queue.task_done()
    assert queue.held_bytes == 4 * wire_size(small)

    await queue.put(eio_packet.Packet(eio_packet.MESSAGE, data="y" * 20_000))
    assert len(overflows) == 1 and overflows[0] > 10_000
    assert queue.overflowed and queue.held_bytes == 0
    assert await queue.get() is None  # python-engineio's writer and poll stop on None
    await queue.put(small)
    assert queue.empty() and overflows == [overflows[0]]  # nothing more is taken, no second report
    await asyncio.wait_for(queue.join(), 1)


async def test_a_websocket_write_to_a_peer_that_stopped_reading_ends_the_connection() -> None:
    server = types.SimpleNamespace(write_watch=WriteWatch(0.05))
    ws = TimedWebSocket(None, server)
    sent: list[Any] = []
    never = asyncio.Event()

    async def asgi_send(message: Any) -> None:
        if message.get("text") == "stuck":
            await never.wait()  # the transport is full and stays full
        sent.append(message)

    ws.asgi_send = asgi_send
    ws.asgi_receive = never.wait
    await ws.send("fine")  # a write that finishes is not touched
    assert sent == [{"type": "websocket.send", "bytes": None, "text": "fine"}]

    reader = asyncio.create_task(ws.wait())
    with pytest.raises(ConnectionError, match="stopped reading"):
        await asyncio.wait_for(ws.send("stuck"), 5)
    with pytest.raises(asyncio.CancelledError):
        await reader  # python-engineio's reader loop ends on this
    assert ws.stalled
    await asyncio.wait_for(ws.close(), 1)  # no close frame behind unread data: returns at once
    with pytest.raises(ConnectionError):
        await ws.send("more")


def test_connections_per_address() -> None:
    cap = ConnectionsPerAddress(2)
    assert cap.acquire("10.0.0.1") and cap.acquire("10.0.0.1")
    assert not cap.acquire("10.0.0.1")
    assert cap.acquire("10.0.0.2")
    cap.release("10.0.0.1")
    assert cap.acquire("10.0.0.1")
    assert "10.0.0.1" in cap.refusal("10.0.0.1") and "ELIZA_MAX_CONNECTIONS_PER_IP" in cap.refusal("10.0.0.1")
    off = ConnectionsPerAddress(0)
    assert all(off.acquire("10.0.0.1") for _ in range(1000))
    assert client_address({"asgi.scope": {"client": ("192.0.2.7", 5555)}}) == "192.0.2.7"
    assert client_address({}) == "unknown"
