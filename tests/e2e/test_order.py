"""One sender's burst is stored and broadcast in the order it was sent, whatever the transport and backend.

A real socket.io-client 4.x emits 120 sends back to back (one tick of the client: over polling
they travel in one POST, over websocket as consecutive frames). The acks, the sender's own
copies, another member's broadcasts and the stored history must all follow the send order, on
SQLite and on PostgreSQL with Redis (the configuration several nodes run), for a socket that
has joined the room and for one whose first sends go into a room it has not joined.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.e2e.test_memory import history
from tests.support.nodes_env import shared_nodes_env
from tests.support.server import ServerProcess

BURST = 120


@asynccontextmanager
async def a_server(backend: str, server_factory: Callable[..., ServerProcess]) -> AsyncIterator[ServerProcess]:
    if backend == "sqlite":
        yield server_factory()
        return
    async with shared_nodes_env() as env:
        proc = server_factory(env)
        try:
            yield proc
        finally:  # stopped before its schema and keys go
            proc.stop()


@pytest.mark.parametrize("backend", ["sqlite", "postgres+redis"])
@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.parametrize("joined", [True, False], ids=["joined", "first-sends"])
async def test_a_burst_is_stored_and_broadcast_in_send_order(
    backend: str, transport: str, joined: bool, server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    async with a_server(backend, server_factory) as proc:
        room, me = new_id(), new_id()
        member = await clients(proc.url)
        await member.connected()
        await member.call("message", join(room, new_id()))
        sender = await clients(proc.url, transports=[transport])
        await sender.connected()
        if joined:
            await sender.call("message", join(room, me))
        texts = [f"in order {i:03d}" for i in range(BURST)]
        sends = [send(room, me, text) for text in texts]

        acks = await sender.burst("message", sends)

        assert all(ack["success"] for ack in acks), [ack for ack in acks if not ack["success"]][:3]
        arrived = [r["args"][0] for r in sender.seen if r["type"] == "ack" and r["args"]]
        ack_order = [a["clientMessageId"] for a in arrived if isinstance(a, dict) and "clientMessageId" in a]
        assert ack_order == [s["payload"]["messageId"] for s in sends]  # handled in send order
        heard = [await member.event("messageBroadcast", where=lambda m: m["senderId"] == me) for _ in texts]
        assert [m["text"] for m in heard] == texts
        own = [m for m in sender.events("messageBroadcast") if m.get("senderId") == me]
        assert [m["text"] for m in own] == texts
        stored = history(proc.url, room, limit=BURST)
        assert [m["content"] for m in reversed(stored)] == texts
