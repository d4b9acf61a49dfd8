"""Payload builders for the e2e tests, in the two dialects clients use; nodes sharing PostgreSQL and Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from tests.conftest import new_id
from tests.support.node import NodeClient
from tests.support.nodes_env import shared_nodes_env
from tests.support.server import ServerProcess


def join(room: str, entity: str, **extra: Any) -> dict[str, Any]:
    return {"type": 1, "payload": {"roomId": room, "entityId": entity, **extra}}


def send(room: str, sender: str, text: str, **extra: Any) -> dict[str, Any]:
    payload = {
        "senderId": sender,
        "senderName": "Tester",
        "message": text,
        "roomId": room,
        "messageId": new_id(),
        "source": "test",
        "attachments": [],
        "metadata": {},
    }
    payload.update(extra)
    return {"type": 2, "payload": payload}


async def sent(client: NodeClient, room: str, sender: str, *texts: str) -> list[dict[str, Any]]:
    """Send each text in turn, waiting for its ack and checking it succeeded; the acks."""
    acks = []
    for text in texts:
        ack = await client.call("message", send(room, sender, text))
        assert ack["success"] is True, ack
        acks.append(ack)
    return acks


async def joined_client(clients: Any, url: str, room: str, entity: str) -> NodeClient:
    """A new client of ``url`` (from the ``clients`` fixture), connected and joined to ``room`` as ``entity``."""
    client: NodeClient = await clients(url)
    await client.connected()
    await client.call("message", join(room, entity))
    return client


@asynccontextmanager
async def nodes(
    server_factory: Callable[..., ServerProcess], count: int, extra: dict[str, str] | None = None
) -> AsyncIterator[tuple[dict[str, str], list[ServerProcess]]]:
    """``count`` server processes on one fresh PostgreSQL schema and Redis prefix, ``extra`` added to their
    environment; that environment and the nodes. All are stopped before their schema and keys go."""
    async with shared_nodes_env() as env:
        env = {**env, **(extra or {})}
        started = [server_factory(env) for _ in range(count)]
        try:
            yield env, started
        finally:
            for node in started:
                node.stop()


@asynccontextmanager
async def two_nodes(server_factory: Callable[..., ServerProcess]) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    async with nodes(server_factory, 2) as (_, (a, b)):
        yield a, b
