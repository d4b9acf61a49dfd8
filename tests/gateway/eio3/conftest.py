"""Fixtures for the Engine.IO 3 tests: a small test-only Socket.IO app and the npm clients.

The app is built with ``LegacyCompatibleAsyncServer`` and has just enough handlers to drive the
real socket.io-client 1.3.0 / 2.5.x / 4.x packages through connect, acks both ways, binary data
and room broadcasts. ``live_server`` runs it on uvicorn on 127.0.0.1 (a free port) in a thread with
its own event loop, so that Node clients and the test (through ``LiveServer.call``) can both use it.
"""

from __future__ import annotations

import asyncio
import json as std_json
import os
import shutil
import socket
import subprocess
import threading
import types
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import engineio
import pytest
import socketio
import uvicorn

from eliza_messaging.gateway.eio3 import LegacyCompatibleAsyncServer, is_legacy
from tests.conftest import service_missing

JS_DIR = Path(__file__).resolve().parents[2] / "js-legacy"


# ------------------------------------------------------------------------------ test app


def _non_ascii_json() -> types.SimpleNamespace:
    """A ``json`` module that writes non-ASCII text as is, like orjson does in production."""

    def dumps(obj: Any, **kwargs: Any) -> str:
        kwargs.pop("ensure_ascii", None)
        return std_json.dumps(obj, ensure_ascii=False, **kwargs)

    return types.SimpleNamespace(dumps=dumps, loads=std_json.loads)


@dataclass
class TestApp:
    """The server, its ASGI app and what the connect handler saw."""

    sio: LegacyCompatibleAsyncServer
    asgi: Any
    connections: dict[str, dict[str, Any]] = field(default_factory=dict)
    connect_calls: int = 0
    disconnects: list[tuple[str, str]] = field(default_factory=list)


def build_test_app(**server_kwargs: Any) -> TestApp:
    """A Socket.IO app with the handlers the scenarios use (``join``, ``echo``, ``shout``, ...)."""
    kwargs: dict[str, Any] = {"async_mode": "asgi", "cors_allowed_origins": "*"}
    kwargs.update(server_kwargs)
    sio = LegacyCompatibleAsyncServer(**kwargs)
    app = TestApp(sio=sio, asgi=socketio.ASGIApp(sio))

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any) -> None:
        app.connect_calls += 1
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if query.get("reject") == "1" or (isinstance(auth, dict) and auth.get("reject") == "1"):
            raise socketio.exceptions.ConnectionRefusedError("rejected by the test app")
        app.connections[sid] = {
            "query": environ.get("QUERY_STRING", ""),
            "entityId": query.get("entityId") or (auth or {}).get("entityId"),
            "token": query.get("token") or (auth or {}).get("token"),
            "auth": auth,
            "legacy": is_legacy(sio, sid),
        }

    @sio.event
    async def disconnect(sid: str, reason: str) -> None:
        app.disconnects.append((sid, reason))

    @sio.event
    async def whoami(sid: str) -> dict[str, Any]:
        return {**app.connections.get(sid, {}), "transport": sio.transport(sid)}

    @sio.event
    async def join(sid: str, room: str) -> str:
        await sio.enter_room(sid, room)
        return room

    @sio.event
    async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
        return args

    @sio.event
    async def shout(sid: str, data: dict[str, Any]) -> str:
        await sio.emit("shouted", {"from": sid, **data}, room=data["room"])
        return "shouted"

    @sio.event
    async def roundtrip(sid: str, data: dict[str, Any]) -> Any:
        return await sio.call("question", data, to=sid, timeout=5)

    return app


@pytest.fixture
def non_ascii_json() -> types.SimpleNamespace:
    """The orjson-like ``json`` module (non-ASCII text written as is)."""
    return _non_ascii_json()


@pytest.fixture
def app_factory() -> Iterator[Any]:
    """``build_test_app`` for in-process tests; restores the process-wide JSON modules afterwards."""
    saved = engineio.packet.Packet.json, socketio.packet.Packet.json
    yield build_test_app
    engineio.packet.Packet.json, socketio.packet.Packet.json = saved


# ------------------------------------------------------------------------------ live server


@dataclass
class LiveServer:
    """A test app served by uvicorn in a background thread."""

    app: TestApp
    url: str
    loop: asyncio.AbstractEventLoop

    @property
    def sio(self) -> LegacyCompatibleAsyncServer:
        return self.app.sio

    def call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        """Run a coroutine on the server's loop (e.g. ``sio.emit``) and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


def _serve(app: TestApp, **uvicorn_kwargs: Any) -> Iterator[LiveServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app.asgi, log_level="warning", lifespan="off", **uvicorn_kwargs)
    server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
            loop.run_until_complete(app.sio.shutdown())
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="legacy-live-server", daemon=True)
    thread.start()
    for _ in range(500):
        if server.started or not thread.is_alive():
            break
        threading.Event().wait(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{port}", loop=loop)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture(scope="module")
def live_server() -> Iterator[LiveServer]:
    """The test app with short heartbeats and orjson-like (non-ASCII) JSON, served on 127.0.0.1."""
    saved = engineio.packet.Packet.json, socketio.packet.Packet.json
    app = build_test_app(ping_interval=0.6, ping_timeout=2, json=_non_ascii_json())
    try:
        yield from _serve(app)
    finally:
        engineio.packet.Packet.json, socketio.packet.Packet.json = saved


# ------------------------------------------------------------------------------ npm clients


@pytest.fixture(scope="session")
def js_clients() -> Path:
    """tests/js-legacy with its node_modules; runs ``npm ci`` (registry only) when they are missing.

    Without node and npm the tests that use it skip, except in CI (``CI=true``), where they fail.
    """
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        service_missing("Node.js", "node and npm are needed for the socket.io-client end-to-end tests; install Node.js")
    marker = JS_DIR / "node_modules" / "sio1" / "package.json"
    if not marker.exists():
        env = {**os.environ, "npm_config_update_notifier": "false"}
        proc = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(f"npm ci failed in {JS_DIR}:\n{proc.stdout}\n{proc.stderr}")
    return JS_DIR
