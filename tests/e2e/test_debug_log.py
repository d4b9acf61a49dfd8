"""``--log-level debug`` shows every Socket.IO event in and out with its socket, room and payload size."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.server import ServerProcess


async def test_debug_log_lists_events_in_and_out(server_factory: Callable[..., ServerProcess], clients: Any) -> None:
    proc = server_factory()  # the fixture starts servers with --log-level debug
    room, me = new_id(), new_id()
    client = await clients(proc.url)
    sid = await client.connected()
    await client.call("message", join(room, me))
    await client.call("message", send(room, me, "log me"))
    await asyncio.sleep(0.3)
    lines = proc.logs().splitlines()
    incoming = [line for line in lines if '"event in"' in line and f"sid={sid}" in line]
    assert len(incoming) == 2 and all(f"room={room}" in line and "event=message" in line for line in incoming)
    assert all("bytes=" in line for line in incoming)
    outgoing = [line for line in lines if '"event out"' in line]
    for event in ("connection_established", "channel_joined", "messageBroadcast", "messageAck"):
        assert any(f"event={event}" in line for line in outgoing), event
    assert any("event=messageBroadcast" in line and f"room={room}" in line for line in outgoing)


async def test_info_level_is_quiet(tmp_path: Path, clients: Any) -> None:
    proc = ServerProcess(tmp_path / "data", log_level="info").start()
    try:
        httpx.get(f"{proc.url}/api/messaging/message-servers")
        room, me = new_id(), new_id()
        client = await clients(proc.url)
        sid = await client.connected()
        await client.call("message", join(room, me))
        await client.call("message", send(room, me, "not logged at info"))
    finally:
        proc.stop()  # every line is out before they are read
    logs = proc.logs()
    assert '"agent ready"' in logs  # positive control: info lines do reach this log
    assert '"event' not in logs and sid not in logs  # the socket's events are debug only
    assert "GET /api" not in logs  # no access log line per request by default
