"""A real server on PostgreSQL (``POSTGRES_URL``), seen from a real socket.io-client 4.x.

The same wire behaviour as on SQLite: acked once stored, idempotent retries, history over REST,
kept across a restart, and Eliza answering in a DM, with every row in PostgreSQL and no SQLite
file. Each test gets a fresh schema; without PostgreSQL the tests skip (fail under CI=true).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.agents.test_agents_e2e import agents
from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.e2e.test_memory import history
from tests.store.conftest import postgres_schema, postgres_url
from tests.support.server import ServerProcess


async def test_a_server_on_postgres_acks_answers_and_remembers_across_a_restart(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    async with postgres_schema() as schema:
        proc = server_factory({"POSTGRES_URL": postgres_url(schema)})
        try:
            eliza = agents(proc.url)["Eliza"]
            client = await clients(proc.url)
            await client.connected()
            room, me = new_id(), new_id()
            await client.call("message", join(room, me, metadata={"isDm": True, "targetUserId": eliza}))
            sent = send(room, me, "I am unhappy with my work", metadata={"isDm": True})
            ack = await client.call("message", sent)
            assert ack["success"] is True and ack["clientMessageId"] == sent["payload"]["messageId"]
            reply = await client.event("messageBroadcast", where=lambda m: m["senderId"] == eliza, timeout=20)
            assert reply["text"] and reply["inReplyTo"] == ack["messageId"]
            await client.event("messageComplete", timeout=20)
            retry = await client.call("message", sent)  # the same client id again: the original, not a copy
            assert retry["messageId"] == ack["messageId"]

            before = history(proc.url, room)
            assert [m["id"] for m in before] == [reply["id"], ack["messageId"]]  # newest first
            assert before[1]["content"] == "I am unhappy with my work" and before[1]["authorId"] == me
            assert before[0]["sourceType"] == "agent_response"
            await client.close()

            proc.restart()
            assert history(proc.url, room) == before
            assert agents(proc.url)["Eliza"] == eliza
            health = httpx.get(f"{proc.url}/healthz")
            assert health.status_code == 200 and health.json()["database"] == "ok"
            servers = httpx.get(f"{proc.url}/api/messaging/message-servers").json()["data"]["messageServers"]
            assert len(servers) == 1  # the default server, created once across the restart
        finally:
            proc.stop()

        conn = await asyncpg.connect(postgres_url(schema))
        try:
            stored = await conn.fetch("SELECT id FROM central_messages WHERE channel_id = $1", room)
            assert {r["id"] for r in stored} == {reply["id"], ack["messageId"]}
        finally:
            await conn.close()
        assert not (proc.data_dir / "messaging.sqlite3").exists()


def test_an_unreachable_postgres_stops_the_start_with_a_clear_reason(
    server_factory: Callable[..., ServerProcess],
) -> None:
    with pytest.raises(RuntimeError, match="Could not connect to PostgreSQL"):
        server_factory({"POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/none"})
