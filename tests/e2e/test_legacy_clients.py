"""Old clients on the real server: socket.io-client 1.3.0 (the seeds' extension) and 2.x, beside a 4.x client."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import new_id
from tests.e2e.helpers import join
from tests.support.node import NODE, ensure_node_modules
from tests.support.server import ServerProcess

LEGACY_DIR = Path(__file__).resolve().parents[1] / "js-legacy"


async def run_legacy(env: dict[str, str], timeout: float = 30.0) -> list[str]:
    ensure_node_modules(LEGACY_DIR)
    proc = await asyncio.create_subprocess_exec(
        NODE,
        str(LEGACY_DIR / "seed_legacy_client.js"),
        cwd=LEGACY_DIR,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    return out.decode(errors="replace").splitlines()


def received(lines: list[str]) -> list[tuple[str, Any]]:
    events = [json.loads(line.removeprefix("[RECEIVE] ")) for line in lines if line.startswith("[RECEIVE] ")]
    return [(e[0], e[1] if len(e) > 1 else None) for e in events]


@pytest.mark.parametrize("client", ["sio1", "sio2"])
@pytest.mark.parametrize("transports", ["polling,websocket", "polling", "websocket"])
async def test_old_clients_join_send_and_hear_the_agent(
    server: ServerProcess, clients: Any, client: str, transports: str
) -> None:
    eliza = httpx.get(f"{server.url}/api/agents").json()["data"]["agents"][0]["id"]
    room, entity, modern_id = eliza, new_id(), new_id()  # the seeds' way: the room is the agent's id
    modern = await clients(server.url)
    await modern.connected()
    await modern.call("message", join(room, modern_id))
    lines = await run_legacy(
        {
            "CLIENT": client,
            "SOCKET_URL": server.url,
            "ROOM_ID": room,
            "ENTITY_ID": entity,
            "TRANSPORTS": transports,
            "MESSAGE_ID": new_id(),
            "TEXT": "I feel lonely today",
            "EXIT_AFTER_MS": "2500",
        }
    )
    events = received(lines)
    names = [name for name, _ in events]
    assert "[SUCCESS] Connected" in lines
    assert names[0] == "connection_established"
    assert "channel_joined" in names and "messageAck" in names
    ack = json.loads(next(line for line in lines if line.startswith("[ACK] ")).removeprefix("[ACK] "))
    assert ack["success"] is True
    mine = [p for n, p in events if n == "messageBroadcast" and p["senderId"] == entity]
    assert [m["text"] for m in mine] == ["I feel lonely today"] and mine[0]["clientMessageId"]
    chunks = [p for n, p in events if n == "messageStreamChunk"]
    reply = next(p for n, p in events if n == "messageBroadcast" and p["senderId"] == eliza)
    assert chunks and reply["text"] == "".join(c["chunk"] for c in chunks).strip()
    assert names.index("messageComplete") > names.index("messageBroadcast")
    # the 4.x client in the same room heard the old client and the agent
    heard = await modern.event("messageBroadcast", where=lambda m: m["senderId"] == entity)
    assert heard["id"] == ack["messageId"]
    await modern.event("messageBroadcast", where=lambda m: m["id"] == reply["id"])


async def test_an_old_client_hears_a_modern_one_and_gets_identity_from_the_query(
    server: ServerProcess, clients: Any
) -> None:
    room, entity, talker_id = new_id(), new_id(), new_id()
    modern = await clients(server.url)
    await modern.connected()
    await modern.call("message", join(room, talker_id))

    async def talk() -> None:
        await asyncio.sleep(1.0)
        await modern.call(
            "message", {"type": 2, "payload": {"senderId": talker_id, "message": "hi old friend", "roomId": room}}
        )

    talker = asyncio.create_task(talk())
    lines = await run_legacy(
        {
            "CLIENT": "sio1",
            "SOCKET_URL": server.url,
            "ROOM_ID": room,
            "ENTITY_ID": entity,
            "QUERY": f"?entityId={entity}",
            "MESSAGE_ID": new_id(),
            "EXIT_AFTER_MS": "2000",
        }
    )
    await talker
    events = received(lines)
    assert ("authenticated", {"entityId": entity, "timestamp": dict(events)["authenticated"]["timestamp"]}) in events
    assert any(n == "messageBroadcast" and p["text"] == "hi old friend" for n, p in events)


async def test_eio3_can_be_turned_off_with_a_clear_error(server_factory: Callable[..., ServerProcess]) -> None:
    proc = server_factory({"ELIZA_ALLOW_EIO3": "false"})
    response = httpx.get(f"{proc.url}/socket.io/", params={"EIO": "3", "transport": "polling"})
    assert response.status_code == 400
    assert "ELIZA_ALLOW_EIO3=true" in response.text and "socket.io-client 4.x" in response.text
    lines = await run_legacy(
        {
            "CLIENT": "sio2",
            "SOCKET_URL": proc.url,
            "ROOM_ID": new_id(),
            "ENTITY_ID": new_id(),
            "TRANSPORTS": "polling",
            "EXIT_AFTER_MS": "1500",
        }
    )
    assert any(line.startswith("[ERROR]") for line in lines)
    assert "[SUCCESS] Connected" not in lines
