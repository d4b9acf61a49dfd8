"""The real npm clients against ``LegacyCompatibleAsyncServer`` on uvicorn.

socket.io-client 1.3.0 (the browser extension's version) and 2.5.x speak Engine.IO 3; each runs
over polling only, websocket only and polling upgraded to websocket, in Node's default base64
polling mode and, with an XHR2 shim, in the browser's binary polling mode. A socket.io-client
4.x in the same room must see the same broadcasts.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .conftest import LiveServer

ENTITY_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"
ECHO_TEXT = {"text": 'héllo wörld – 你好 😀 \u2028 "quoted" \\ back', "n": 42, "list": [1, None, True]}
ECHO_BYTES = [0, 1, 2, 127, 128, 253, 254, 255]
ANNOUNCE = {"text": "server says ¡hola! 🎉", "nested": {"ok": True}}
ANNOUNCE_BYTES = bytes(range(250, 256)) + b"\x00\x01"


def _bin(data: bytes | list[int]) -> dict[str, list[int]]:
    return {"$bin": list(data)}


def run_scenario(js_dir: Path, server: LiveServer, **options: Any) -> dict[str, Any]:
    """Run tests/js-legacy/scenario.js; emit the server-side broadcast when it says READY."""
    room = f"room-{uuid.uuid4().hex[:8]}"
    options = {"url": server.url, "room": room, **options}
    proc = subprocess.Popen(
        ["node", "scenario.js", json.dumps(options)],
        cwd=js_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    killer = threading.Timer(30, proc.kill)
    killer.start()
    result: dict[str, Any] | None = None
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("READY"):
                server.call(server.sio.emit("announce", (ANNOUNCE, ANNOUNCE_BYTES), room=room))
            elif line.startswith("RESULT "):
                result = json.loads(line[len("RESULT ") :])
        proc.wait(10)
    finally:
        killer.cancel()
        if proc.poll() is None:  # pragma: no cover - only on failures
            proc.kill()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert result is not None, f"scenario failed: {options}\nstdout:\n" + "\n".join(lines) + f"\nstderr:\n{stderr}"
    result["room"] = room
    return result


CASES = [
    # client, transport, xhr2 (browser-like binary polling), idle ms (heartbeats)
    ("sio1", "polling", False, 1500),
    ("sio1", "websocket", False, 1500),
    ("sio1", "upgrade", False, 0),
    ("sio1", "polling", True, 0),
    ("sio1", "upgrade", True, 0),
    ("sio2", "polling", False, 1500),
    ("sio2", "websocket", False, 1500),
    ("sio2", "upgrade", False, 0),
    ("sio2", "polling", True, 0),
    ("sio2", "upgrade", True, 0),
]


@pytest.mark.parametrize(
    ("client", "transport", "xhr2", "idle_ms"),
    CASES,
    ids=[f"{c}-{t}{'-xhr2' if x else ''}" for c, t, x, _ in CASES],
)
def test_legacy_client(
    js_clients: Path, live_server: LiveServer, client: str, transport: str, xhr2: bool, idle_ms: int
) -> None:
    result = run_scenario(
        js_clients, live_server, client=client, transport=transport, xhr2=xhr2, companion=True, idleMs=idle_ms
    )
    expected_transport = "polling" if transport == "polling" else "websocket"

    who = result["whoami"]
    assert who["legacy"] is True
    assert who["auth"] is None
    assert who["entityId"] == ENTITY_ID
    assert who["token"] == "tok en/1"
    assert "EIO=3" in who["query"]
    # an upgrading client may ask before or after its upgrade; any other asks on its one transport
    assert who["transport"] in (("polling", "websocket") if transport == "upgrade" else (expected_transport,))
    assert result["joined"] == result["room"]

    assert result["echo"] == [ECHO_TEXT, "second"]
    assert result["binEcho"] == [_bin(ECHO_BYTES), {"nested": _bin("bin ü".encode())}]
    assert result["roundtrip"] == {"answer": "ping?!", "bin": _bin([9, 8, 7])}

    shout = {"room": result["room"], "text": "to all ✓"}
    assert result["shoutAck"] == "shouted"
    assert {k: result["events"]["shouted"][k] for k in shout} == shout
    assert {k: result["companion"]["shouted"][k] for k in shout} == shout
    assert result["companion"]["joined"] == result["room"]

    announce = [ANNOUNCE, _bin(ANNOUNCE_BYTES)]
    assert result["events"]["announce"] == announce
    assert result["companion"]["announce"] == announce

    assert result["transport"] == expected_transport
    assert result["connected"] is True
    if idle_ms:
        assert result["pongs"] >= 1, "the client pinged and the server answered"
        assert result["afterIdle"]["legacy"] is True


@pytest.mark.parametrize("client", ["sio1", "sio2"])
def test_legacy_client_rejected_by_connect_handler(js_clients: Path, live_server: LiveServer, client: str) -> None:
    result = run_scenario(js_clients, live_server, client=client, transport="polling", reject=True)
    assert result["rejected"] == "rejected by the test app"
    assert result["connected"] is False


def test_v4_client_unaffected(js_clients: Path, live_server: LiveServer) -> None:
    result = run_scenario(js_clients, live_server, client="sio4", transport="upgrade", companion=False)
    who = result["whoami"]
    assert who["legacy"] is False
    assert who["auth"] == {"entityId": ENTITY_ID, "token": "tok en/1"}
    assert "EIO=4" in who["query"]
    assert result["echo"] == [ECHO_TEXT, "second"]
    assert result["binEcho"] == [_bin(ECHO_BYTES), {"nested": _bin("bin ü".encode())}]
    assert result["events"]["announce"] == [ANNOUNCE, _bin(ANNOUNCE_BYTES)]
    assert result["transport"] == "websocket"
