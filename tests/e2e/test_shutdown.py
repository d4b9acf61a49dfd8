"""A graceful stop: SIGTERM to a real server while a real socket.io-client sends and an agent answers.

Whatever was acknowledged is in the history after the restart; the client is told why it is being
disconnected, is disconnected as by a lost transport (not sent away), and reconnects by itself to
the restarted server; a reply in progress finishes, or ends cleanly, before the process exits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.agents.test_agents_e2e import agents, character_files, dm
from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.e2e.test_memory import history
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ServerProcess

RECONNECT = {"reconnection": True, "reconnectionDelay": 200, "reconnectionDelayMax": 500}
BURST = 400
FIRST = 10_000  # ack ids of the burst, clear of NodeClient.call's own


def disconnects(client: Any) -> list[str]:
    return [r["reason"] for r in client.seen if r["type"] == "disconnect"]


def event_names(client: Any) -> list[str]:
    return [r["event"] if r["type"] == "event" else r["type"] for r in client.seen if r["type"] != "ack"]


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_sigterm_mid_burst_keeps_every_acked_message_and_the_client_reconnects(
    server_factory: Callable[..., ServerProcess], clients: Any, transport: str
) -> None:
    proc = server_factory({"ELIZA_SHUTDOWN_GRACE_S": "5"})
    client = await clients(proc.url, transports=[transport], **RECONNECT)
    await client.connected()
    room, me = new_id(), new_id()
    await client.call("message", join(room, me))

    async def burst() -> None:  # one send every few milliseconds, on through the stop and the restart
        for i in range(BURST):
            data = send(room, me, f"m{i}")
            await client.send({"op": "emit", "event": "message", "data": data, "ack": True, "id": FIRST + i})
            await asyncio.sleep(0.005)

    sending = asyncio.create_task(burst())
    await client.event("messageBroadcast", where=lambda m: m["text"] == "m50", timeout=10)  # mid-burst
    code = await asyncio.to_thread(proc.terminate, 15)
    assert code is not None, "the server did not exit within grace + 10 s"

    notice = await client.event("serverShutdown", timeout=5)
    assert notice["reason"] == "shutdown" and notice["reconnect"] is True and "send them again" in notice["message"]
    await client.wait_for(lambda r: r["type"] == "disconnect", timeout=5)
    # a lost transport, not "io server disconnect" (after which socket.io-client would not reconnect); a
    # polling client still posting when its session ends sees its POST refused: "transport error"

    proc.start()  # the same port and data
    await client.wait_for(lambda r: r["type"] == "connect", timeout=15)  # reconnected by itself
    # one disconnect, and no session on the stopping server in between (the listener closed first)
    assert [r["type"] for r in client.seen if r["type"] in ("connect", "disconnect")] == [
        "connect",
        "disconnect",
        "connect",
    ]
    assert disconnects(client) in (["transport close"], ["transport error"] if transport == "polling" else [])
    await sending
    answers = [
        await client.wait_for(lambda r, i=i: r.get("id") == FIRST + i and r["type"] in ("ack", "ack_timeout"), 40)
        for i in range(BURST)
    ]
    outcomes = [r["args"][0] for r in answers if r["type"] == "ack"]
    acked = [o["messageId"] for o in outcomes if o.get("success")]
    refused = [o["code"] for o in outcomes if not o.get("success")]
    assert len(acked) > 50, "the burst was not under way when the server stopped"
    assert set(refused) <= {"SERVER_SHUTTING_DOWN"}
    stored = {m["id"] for m in history(proc.url, room, limit=BURST * 2)}
    missing = [i for i in acked if i not in stored]
    assert missing == [], f"{len(missing)} acknowledged messages are not in the history after the restart"


async def test_a_reply_in_progress_finishes_before_the_server_exits(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> None:
    with FakeOpenAI(reply="one two three four", mode="slow", chunk_delay=0.3) as fake:
        character = {"name": "Slow", "settings": {"model_provider": "openai", "OPENAI_BASE_URL": fake.base_url}}
        proc = server_factory({"ELIZA_CHARACTERS": character_files(tmp_path, character), "ELIZA_SHUTDOWN_GRACE_S": "8"})
        agent = agents(proc.url)["Slow"]
        client, room, me = await dm(clients, proc.url, agent, **RECONNECT)
        ack = await client.call("message", send(room, me, "take your time", metadata={"isDm": True}))
        await client.event("messageStreamChunk", timeout=10)  # the reply is under way
        code = await asyncio.to_thread(proc.terminate, 20)
        assert code is not None, "the server did not exit within grace + 12 s"

        reply = await client.event("messageBroadcast", where=lambda m: m["senderId"] == agent, timeout=5)
        assert reply["text"] == "one two three four" and reply["inReplyTo"] == ack["messageId"]
        names = event_names(client)
        # the reply ended (stored, broadcast, complete) before the notice and the disconnect
        assert names.index("messageComplete") < names.index("serverShutdown") < names.index("disconnect")
        proc.start()
        assert [m["content"] for m in history(proc.url, room) if m["authorId"] == agent] == ["one two three four"]


async def test_a_reply_longer_than_the_grace_ends_cleanly_before_the_exit(
    server_factory: Callable[..., ServerProcess], clients: Any, tmp_path: Path
) -> None:
    with FakeOpenAI(reply=" ".join(f"w{i}" for i in range(30)), mode="slow", chunk_delay=0.5) as fake:
        character = {"name": "Endless", "settings": {"model_provider": "openai", "OPENAI_BASE_URL": fake.base_url}}
        proc = server_factory({"ELIZA_CHARACTERS": character_files(tmp_path, character), "ELIZA_SHUTDOWN_GRACE_S": "1"})
        agent = agents(proc.url)["Endless"]
        client, room, me = await dm(clients, proc.url, agent)
        await client.call("message", send(room, me, "tell me everything", metadata={"isDm": True}))
        await client.event("messageStreamChunk", timeout=10)
        code = await asyncio.to_thread(proc.terminate, 12)
        assert code is not None, "the server did not exit within grace + 11 s"
        await client.event("serverShutdown", timeout=5)
        names = event_names(client)
        assert "messageStreamError" in names
        assert names.index("messageStreamError") < names.index("messageComplete") < names.index("serverShutdown")
        assert not any(m["senderId"] == agent for m in client.events("messageBroadcast"))
