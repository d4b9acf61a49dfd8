"""/metrics counts what a real client does: connections, joins, stored messages, acks and their latency,
errors by code, agent replies; on its own port with ELIZA_METRICS_PORT."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.server import ServerProcess, free_port


def value(text: str, name: str, labels: str = "") -> float:
    """One sample of the Prometheus text: ``name{labels} value``."""
    pattern = rf"^{re.escape(name)}{re.escape('{' + labels + '}') if labels else ''} (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    assert found, f"{name}{{{labels}}} not in /metrics"
    return float(found.group(1))


async def test_metrics_count_what_a_client_does(server_factory: Callable[..., ServerProcess], clients: Any) -> None:
    proc = server_factory()
    before = httpx.get(f"{proc.url}/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    assert value(before.text, "eliza_connections") == 0
    client = await clients(proc.url)
    await client.connected()
    room, me = new_id(), new_id()
    await client.call("message", join(room, me))
    for text in ("one", "two"):
        assert (await client.call("message", send(room, me, text)))["success"] is True
    refused = await client.call("message", send(room, me, "   "))
    assert refused["code"] == "INVALID_PAYLOAD"
    agents = httpx.get(f"{proc.url}/api/agents").json()["data"]["agents"]
    eliza = next(a["id"] for a in agents if a["name"] == "Eliza")
    dm = new_id()
    await client.call("message", join(dm, me, metadata={"isDm": True, "targetUserId": eliza}))
    await client.call("message", send(dm, me, "hello Eliza", metadata={"isDm": True, "targetUserId": eliza}))
    await client.event("messageComplete", timeout=15)

    text = httpx.get(f"{proc.url}/metrics").text
    assert value(text, "eliza_connections") == 1
    assert value(text, "eliza_joins_total") == 2
    assert value(text, "eliza_messages_total", 'direction="in"') == 3
    assert value(text, "eliza_messages_total", 'direction="out"') == 1  # Eliza's reply
    assert value(text, "eliza_ack_seconds_count") == 3
    assert value(text, "eliza_store_write_seconds_count") == 4
    assert value(text, "eliza_errors_total", 'code="INVALID_PAYLOAD"') == 1
    assert value(text, "eliza_agent_replies_total", 'outcome="replied"') == 1
    assert value(text, "eliza_fanout_broadcasts_total") == 4
    assert value(text, "eliza_queue_lag") == 0
    assert "hello Eliza" not in text  # counts only, never text


async def test_metrics_on_their_own_port(server_factory: Callable[..., ServerProcess]) -> None:
    port = free_port()
    proc = server_factory({"ELIZA_METRICS_PORT": str(port), "SERVER_HOST": "127.0.0.1"})
    assert httpx.get(f"{proc.url}/metrics").status_code == 404
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics")
    assert answer.status_code == 200 and "eliza_connections" in answer.text
