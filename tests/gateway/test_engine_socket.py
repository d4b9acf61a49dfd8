"""QueuedSocket.poll: python-engineio's answers, without a task per wait."""

from __future__ import annotations

import asyncio
from typing import Any

import engineio
import pytest
from engineio import async_socket, exceptions
from engineio import packet as eio_packet

from eliza_messaging.gateway.engine_socket import QueuedSocket, adopt


def _socket(ping_s: float = 5.0) -> Any:
    server = engineio.AsyncServer(async_mode="asgi", ping_interval=ping_s, ping_timeout=ping_s)
    socket = async_socket.AsyncSocket(server, "sid1")
    adopt(socket)
    return socket


def _pkt(text: str) -> Any:
    return eio_packet.Packet(eio_packet.MESSAGE, text)


async def test_adopt_turns_a_plain_socket_into_a_queued_one() -> None:
    assert type(_socket()) is QueuedSocket


async def test_poll_waits_without_a_task_and_returns_everything_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    socket = _socket()
    created = 0
    real = asyncio.tasks.ensure_future

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal created
        created += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(asyncio.tasks, "ensure_future", counting)  # what asyncio.wait_for wraps each wait in
    waiting = asyncio.ensure_future(socket.poll())
    await asyncio.sleep(0)
    socket.queue.put_nowait(_pkt("a"))
    assert [p.data for p in await waiting] == ["a"]
    for text in ("b", "c"):
        socket.queue.put_nowait(_pkt(text))
    assert [p.data for p in await socket.poll()] == ["b", "c"]
    assert created == 0, "a task was created for a wait"


async def test_poll_stops_at_the_close_marker_and_leaves_it_for_the_next() -> None:
    socket = _socket()
    socket.queue.put_nowait(_pkt("a"))
    socket.queue.put_nowait(None)
    assert [p.data for p in await socket.poll()] == ["a"]
    assert await socket.poll() == []


async def test_poll_gives_up_after_a_ping_cycle_as_engineio_does() -> None:
    socket = _socket(ping_s=0.05)
    with pytest.raises(exceptions.QueueEmpty):
        await socket.poll()


async def test_a_cancelled_poll_ends_the_writer_as_engineio_does() -> None:
    socket = _socket()
    waiting = asyncio.ensure_future(socket.poll())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(exceptions.QueueEmpty):
        await waiting
