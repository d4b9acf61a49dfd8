"""The recovering server in-process (Engine.IO polling by hand): what a recovering socket is sent, in which
order, and the bound on what is held for it while its missed packets are read.

The socket.io-client 4.8 behaviour end to end, on one node and across nodes, is tests/e2e/test_recovery.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import socketio

from eliza_messaging.fanout.recovery import MemorySessions
from eliza_messaging.fanout.socketio import create_client_manager
from eliza_messaging.gateway.recovery import RecoveringAsyncServer
from eliza_messaging.messaging.identity import Caller
from eliza_messaging.messaging.presence import SocketState

ENGINE = "/socket.io/"


class Harness:
    """A server whose connect handler enters ``room`` and, while recovering, broadcasts ``meanwhile`` to it
    (what other sockets say while this one's missed packets are still to be sent)."""

    def __init__(self) -> None:
        manager = create_client_manager(recovery_window_s=60)
        self.sio = RecoveringAsyncServer(async_mode="asgi", client_manager=manager)
        self.sio.sessions = MemorySessions(self.sio.manager.packet_log)
        self.meanwhile: list[int] = []
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)

    async def connect(self, sid: str, environ: Any, auth: Any = None) -> None:
        await self.sio.enter_room(sid, "room")
        if self.sio.recovering(sid) is not None:
            for n in self.meanwhile:
                await self.say(n)
            return
        pid = self.sio.new_pid(sid)
        assert pid is not None
        self.sio.bind_pid(sid, pid)

    async def disconnect(self, sid: str, reason: Any = None) -> None:
        state = SocketState(Caller(), {"room": None}, "x")
        await self.sio.save_session(sid, state, reason, stopping=False)

    async def say(self, n: int) -> None:
        await self.sio.manager.emit("e", {"n": n}, "/", room="room", logged=True)


async def _open(http: httpx.AsyncClient, auth: dict[str, Any] | None = None) -> tuple[str, dict[str, str]]:
    opened = await http.get(ENGINE, params={"EIO": "4", "transport": "polling"})
    eio_sid = json.loads(opened.text[1:])["sid"]
    params = {"EIO": "4", "transport": "polling", "sid": eio_sid}
    connect = "40" + (json.dumps(auth) if auth else "")
    assert (await http.post(ENGINE, params=params, content=connect)).status_code == 200
    return eio_sid, params


async def _read(http: httpx.AsyncClient, params: dict[str, str], until: str) -> list[str]:
    packets: list[str] = []
    while not any(p.startswith(until) for p in packets):
        packets += (await http.get(ENGINE, params=params)).text.split("\x1e")
    return packets


@asynccontextmanager
async def _client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=socketio.ASGIApp(harness.sio))
    async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=10) as http:
        yield http


async def _drop(harness: Harness, http: httpx.AsyncClient) -> tuple[str, str, str]:
    """Connect, hear one broadcast, lose the transport; (sid, pid, offset) for the reconnect."""
    eio_sid, params = await _open(http)
    connected = json.loads((await _read(http, params, "40"))[0][2:])
    await harness.say(0)
    heard = json.loads((await _read(http, params, "42"))[-1][2:])
    await harness.sio.eio.sockets[eio_sid].close(wait=False, abort=True, reason=harness.sio.reason.TRANSPORT_CLOSE)
    return connected["sid"], connected["pid"], heard[-1]


async def test_a_recovering_socket_gets_its_missed_packets_before_what_arrived_meanwhile_each_once() -> None:
    harness = Harness()
    async with _client(harness) as http:
        sid, pid, offset = await _drop(harness, http)
        for n in (1, 2):  # missed while away
            await harness.say(n)
        harness.meanwhile = [3]  # while it recovers: held, sent after the missed ones
        _, params = await _open(http, {"pid": pid, "offset": offset})
        packets = await _read(http, params, "40")
        while sum(p.startswith("42") for p in packets) < 3:
            packets += (await http.get(ENGINE, params=params)).text.split("\x1e")
        events = [json.loads(p[2:]) for p in packets if p.startswith("42")]
        assert [e[1]["n"] for e in events] == [1, 2, 3]
        assert [e[-1] for e in events] == ["0-2", "0-3", "0-4"]
        connect = json.loads(next(p for p in packets if p.startswith("40"))[2:])
        assert connect == {"sid": sid, "pid": pid}


async def test_a_recovering_socket_sent_more_than_can_be_held_is_closed_and_not_recovered() -> None:
    harness = Harness()
    harness.sio.held_max = 5
    async with _client(harness) as http:
        _, pid, offset = await _drop(harness, http)
        harness.meanwhile = list(range(7))  # two more than may be held
        eio_sid, params = await _open(http, {"pid": pid, "offset": offset})
        socket = harness.sio.eio.sockets[eio_sid]
        for _ in range(50):
            if socket.closed and "room" not in harness.sio.manager.rooms.get("/", {}):
                break
            await asyncio.sleep(0.05)
        assert socket.closed, "closed, so that its client connects afresh"
        assert "room" not in harness.sio.manager.rooms.get("/", {}), "nothing of it is left in its room"
        assert len(harness.sio.sessions) == 0, "closed by the server: not saved for another recovery"
        del params
