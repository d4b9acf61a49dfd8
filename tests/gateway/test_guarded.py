"""The guarded server in-process: a socket's lane is bounded, and what waits in it keeps its order."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import socketio

from eliza_messaging.gateway.guarded import GuardedAsyncServer

ENGINE = "/socket.io/"


async def test_a_socket_whose_lane_is_full_is_refused_and_the_waiting_events_keep_their_order() -> None:
    sio = GuardedAsyncServer(async_mode="asgi", socket_rate=0, socket_burst=0, max_pending_events=2)
    release = asyncio.Event()
    handled: list[int] = []

    @sio.on("slow")
    async def slow(sid: str, n: int) -> int:
        await release.wait()
        handled.append(n)
        return n

    app = socketio.ASGIApp(sio)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=10) as http:
        opened = await http.get(ENGINE, params={"EIO": "4", "transport": "polling"})
        sid = json.loads(opened.text[1:])["sid"]
        params = {"EIO": "4", "transport": "polling", "sid": sid}
        assert (await http.post(ENGINE, params=params, content="40")).status_code == 200
        assert (await http.get(ENGINE, params=params)).text.startswith("40")

        events = "\x1e".join(f'42{n}["slow",{n}]' for n in (1, 2, 3))
        assert (await http.post(ENGINE, params=params, content=events)).status_code == 200
        refused = await http.get(ENGINE, params=params)  # only the refusal: 1 and 2 wait for the release
        packets: list[Any] = refused.text.split("\x1e")
        assert packets[0].startswith("433[") and '"code":"RATE_LIMITED"' in packets[0]
        assert packets[1].startswith('42["messageError"')

        release.set()
        answered = ""
        while answered.count("43") < 2:
            answered += (await http.get(ENGINE, params=params)).text
        assert answered.split("\x1e")[:2] == ["431[1]", "432[2]"]
        assert handled == [1, 2]
