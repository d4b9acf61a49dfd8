"""Every buffer is bounded: floods, oversized polling POSTs, readers that stop reading, one host's connections.

Each test drives the real server with real clients (the official socket.io-client, or a raw
Engine.IO client where the point is what a well-behaved client would never send) and checks,
as a positive control, that another client is still served while the bound is enforced.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import connect as ws_connect

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.server import ServerProcess

ENGINE = "/socket.io/"


def _open_polling(http: httpx.Client) -> str:
    """A raw Engine.IO 4 polling session, connected to the default namespace; its sid."""
    opened = http.get(ENGINE, params={"EIO": "4", "transport": "polling"})
    assert opened.status_code == 200, opened.text
    sid = str(json.loads(opened.text[1:])["sid"])
    assert http.post(ENGINE, params={"EIO": "4", "transport": "polling", "sid": sid}, content="40").status_code == 200
    return sid


def _poll_until(http: httpx.Client, sid: str, needle: str, attempts: int = 10) -> str:
    seen = ""
    for _ in range(attempts):
        got = http.get(ENGINE, params={"EIO": "4", "transport": "polling", "sid": sid})
        assert got.status_code == 200, got.text
        seen += got.text
        if needle in seen:
            return seen
    raise AssertionError(f"{needle!r} never arrived; got {seen[:500]!r}")


async def test_a_flooding_socket_is_told_once_per_interval_then_disconnected(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    proc = server_factory({"ELIZA_SOCKET_RATE": "20", "ELIZA_SOCKET_BURST": "20"})
    bystander = await clients(proc.url)
    await bystander.connected()
    quiet_room, flood_room, bystander_id = new_id(), new_id(), new_id()
    await bystander.call("message", join(quiet_room, bystander_id))
    flooder = await clients(proc.url, transports=["websocket"])
    await flooder.connected()

    started = time.monotonic()
    await flooder.send(
        {"op": "flood", "event": "message", "data": send(flood_room, new_id(), "flood"), "perTick": 200, "everyMs": 5}
    )
    answered = await bystander.call("message", send(quiet_room, bystander_id, "still served during the flood"))
    assert answered["success"] is True

    gone = await flooder.wait_for(lambda r: r["type"] == "disconnect", timeout=20)
    seconds = time.monotonic() - started
    assert gone["reason"] == "io server disconnect"
    errors = flooder.events("messageError")
    assert {e["code"] for e in errors} == {"RATE_LIMITED"}
    assert 1 <= len(errors) <= seconds + 2, f"told {len(errors)} times in {seconds:.1f} s, not once per second"
    assert errors[-1]["error"].startswith("Disconnected: this connection kept sending faster than 20")
    assert all(e["retryAfterMs"] > 0 for e in errors)
    after = await bystander.call("message", send(quiet_room, bystander_id, "served after the flood"))
    assert after["success"] is True


def test_a_polling_post_may_not_carry_more_packets_than_the_burst(
    server_factory: Callable[..., ServerProcess],
) -> None:
    proc = server_factory({"ELIZA_SOCKET_BURST": "10"})
    typing = '42["typing",' + json.dumps({"roomId": new_id(), "userId": new_id(), "isTyping": True}) + "]"
    with httpx.Client(base_url=proc.url, timeout=10) as http:
        sid = _open_polling(http)
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        within = http.post(ENGINE, params=params, content="\x1e".join([typing] * 10))
        assert within.status_code == 200, within.text  # a burst's worth is fine

        over = http.post(ENGINE, params=params, content="\x1e".join([typing] * 11))
        assert over.status_code == 400
        assert "carried 11 packets" in over.text and "at most 10" in over.text and "ELIZA_SOCKET_BURST" in over.text


def test_binary_events_are_refused_with_the_reason(server_factory: Callable[..., ServerProcess]) -> None:
    proc = server_factory()
    with httpx.Client(base_url=proc.url, timeout=10) as http:
        sid = _open_polling(http)
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        binary = '451-1["message",{"_placeholder":true,"num":0}]\x1ebAQID'
        assert http.post(ENGINE, params=params, content=binary).status_code == 200
        seen = _poll_until(http, sid, "431[")
        assert "Binary data is not part of this protocol" in seen and '"code":"INVALID_PAYLOAD"' in seen
        assert '42["messageError"' in seen


async def test_a_reader_that_stops_reading_is_disconnected_and_others_are_served(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    proc = server_factory(
        {"ELIZA_SOCKET_MAX_BUFFER": "500000", "ELIZA_PING_INTERVAL": "120", "ELIZA_PING_TIMEOUT": "60"}
    )
    room, reader_id, sender_id = new_id(), new_id(), new_id()
    sender = await clients(proc.url, transports=["websocket"])
    await sender.connected()
    await sender.call("message", join(room, sender_id))

    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel holds little for it either
    raw.connect(("127.0.0.1", proc.port))
    raw.setblocking(False)
    url = f"ws://127.0.0.1:{proc.port}{ENGINE}?EIO=4&transport=websocket"
    reader = await ws_connect(url, sock=raw, max_queue=1, max_size=None, ping_interval=None)
    try:
        assert str(await reader.recv()).startswith("0")
        await reader.send("40")
        await reader.send("421" + json.dumps(["message", join(room, reader_id)]))
        while not str(await reader.recv()).startswith("431"):
            pass  # joined; from here on it reads nothing
        await sender.event("userJoined", where=lambda p: p["userId"] == reader_id)

        big = "x" * 90_000
        acks = await sender.burst("message", [send(room, sender_id, f"{i} {big}") for i in range(100)], timeout=60)
        assert all(ack["success"] for ack in acks)

        left = await sender.event("userLeft", where=lambda p: p["userId"] == reader_id, timeout=30)
        assert left["channelId"] == room
        assert "does not read what is sent to it" in proc.logs()
        bystander = await clients(proc.url)
        await bystander.connected()
        answered = await bystander.call("message", send(new_id(), new_id(), "the server still serves others"))
        assert answered["success"] is True
    finally:
        reader.transport.abort()
        raw.close()


async def test_connections_per_address_are_capped_and_freed_on_close(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    proc = server_factory({"ELIZA_MAX_CONNECTIONS_PER_IP": "3"})
    first = [await clients(proc.url) for _ in range(3)]
    for client in first:
        await client.connected()

    fourth = await clients(proc.url)
    report = await fourth.wait_for(lambda r: r["type"] in ("connect", "connect_error"))
    assert report["type"] == "connect_error"
    async with httpx.AsyncClient(base_url=proc.url, timeout=10) as http:
        refused = await http.get(ENGINE, params={"EIO": "4", "transport": "polling"})
        assert refused.status_code == 429
        assert "Too many connections from 127.0.0.1" in refused.text and "ELIZA_MAX_CONNECTIONS_PER_IP" in refused.text

        await first[0].close()
        for _ in range(100):  # the server frees the place when it has seen the close
            admitted = await http.get(ENGINE, params={"EIO": "4", "transport": "polling"})
            if admitted.status_code == 200:
                break
            await asyncio.sleep(0.05)
        assert admitted.status_code == 200, admitted.text
        again = await http.get(ENGINE, params={"EIO": "4", "transport": "polling"})
        assert again.status_code == 429  # full again


async def test_a_second_post_of_one_session_while_the_first_is_read_is_refused(
    server_factory: Callable[..., ServerProcess],
) -> None:
    proc = server_factory()
    with httpx.Client(base_url=proc.url, timeout=10) as sync_http:
        sid = _open_polling(sync_http)
    params = {"EIO": "4", "transport": "polling", "sid": sid}
    typing = '42["typing",' + json.dumps({"roomId": new_id(), "userId": new_id(), "isTyping": True}) + "]"
    first_sent, finish = asyncio.Event(), asyncio.Event()

    async def slow_body() -> Any:
        yield typing.encode()
        first_sent.set()
        await finish.wait()  # the first POST's body is still coming in
        yield b"\x1e" + typing.encode()

    async with httpx.AsyncClient(base_url=proc.url, timeout=10) as http:
        first = asyncio.create_task(http.post(ENGINE, params=params, content=slow_body()))
        await first_sent.wait()
        for _ in range(50):  # until the server has begun reading the first (a POST before that is fine)
            second = await http.post(ENGINE, params=params, content=typing)
            if second.status_code != 200:
                break
            await asyncio.sleep(0.02)
        finish.set()
        assert second.status_code == 400 and "one POST at a time" in second.text
        assert (await first).status_code == 200  # the first is handled as usual
