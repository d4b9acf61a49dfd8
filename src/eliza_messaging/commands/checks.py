"""The HTTP-level checks of ``doctor``: reachable, polling, websocket, CORS.

Each check talks to the server the way a browser or socket.io-client would, and returns a
:class:`Check` whose ``fix`` is the advice of the seeds' debugging checklist for that failure.
"""

# Waits take a timeout in seconds: every check reports how long it waited.
# ruff: noqa: ASYNC109

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import httpx
import orjson

ENGINE_PATH = "/socket.io/"


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the report: ``ok`` is None when the check could not run."""

    name: str
    ok: bool | None
    detail: str
    fix: str | None = None


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


def skipped(name: str, why: str) -> Check:
    return Check(name, None, f"skipped: {why}")


def _ms(start: float) -> str:
    return f"{(time.perf_counter() - start) * 1000:.0f} ms"


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open_packet(body: str) -> dict[str, Any] | None:
    """The Engine.IO 4 open packet (``0{"sid": ...}``), or None."""
    if not body.startswith("0{"):
        return None
    try:
        packet = orjson.loads(body[1:])
    except orjson.JSONDecodeError:
        return None
    return packet if isinstance(packet, dict) and "sid" in packet else None


async def _close_session(http: httpx.AsyncClient, url: str, sid: Any) -> None:
    """Say goodbye (Engine.IO close packet) so the probe leaves no half-open session behind."""
    with contextlib.suppress(httpx.HTTPError):
        await http.post(
            f"{url}{ENGINE_PATH}", params={"EIO": "4", "transport": "polling", "sid": str(sid)}, content=b"1"
        )


async def reachable(http: httpx.AsyncClient, url: str) -> Check:
    start = time.perf_counter()
    try:
        response = await http.get(f"{url}/api/server/ping")
    except httpx.HTTPError as exc:
        return failed(
            "reachable",
            f"no HTTP answer from {url}: {_short(str(exc)) or type(exc).__name__}",
            "Start the server (eliza-messaging serve, or your ElizaOS server) and check the URL: scheme, host and"
            " port (SERVER_PORT, default 3000). From a container or VM, localhost is not the host machine.",
        )
    return passed("reachable", f"HTTP {response.status_code} from /api/server/ping in {_ms(start)}")


async def polling(http: httpx.AsyncClient, url: str) -> Check:
    name = "polling transport"
    try:
        response = await http.get(f"{url}{ENGINE_PATH}", params={"EIO": "4", "transport": "polling"})
    except httpx.HTTPError as exc:
        return failed(
            name, f"handshake failed: {_short(str(exc))}", "Check the URL and that nothing blocks /socket.io/."
        )
    packet = _open_packet(response.text)
    if response.status_code == 200 and packet is not None:
        await _close_session(http, url, packet["sid"])
        upgrades = ", ".join(packet.get("upgrades") or []) or "none"
        return passed(name, f"Engine.IO 4 handshake over HTTP long-polling (upgrades: {upgrades})")
    if response.status_code == 404:
        return failed(
            name,
            "nothing at /socket.io/ (HTTP 404)",
            "Give the server's base URL (no path); Socket.IO must be served at /socket.io/ on the same port as"
            " the REST API.",
        )
    if await _speaks_eio3(http, url):
        return failed(
            name,
            f"the server refuses Engine.IO 4 (HTTP {response.status_code}) but speaks Engine.IO 3 (socket.io 2.x)",
            "Upgrade the server to Socket.IO 4, or use socket.io-client 2.x with it.",
        )
    return failed(
        name,
        f"HTTP {response.status_code}: {_short(response.text) or 'empty body'}",
        "The server must answer GET /socket.io/?EIO=4&transport=polling with an Engine.IO open packet (0{...});"
        " check that it runs Socket.IO 4 and that no proxy rewrites the path.",
    )


async def _speaks_eio3(http: httpx.AsyncClient, url: str) -> bool:
    try:
        response = await http.get(f"{url}{ENGINE_PATH}", params={"EIO": "3", "transport": "polling"})
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and '"sid"' in response.text


def websocket_url(url: str) -> str:
    parts = urlsplit(url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, f"{parts.path.rstrip('/')}{ENGINE_PATH}", "EIO=4&transport=websocket", ""))


async def websocket(url: str, timeout: float, headers: dict[str, str]) -> Check:
    name = "websocket transport"
    fix = (
        "Let WebSocket upgrades through: a proxy in front must pass the Upgrade and Connection headers (nginx:"
        " proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection"
        " \"upgrade\"). Until then clients can force polling: io(url, {transports: ['polling']})."
    )
    start = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.ws_connect(websocket_url(url), headers=headers, autoping=False) as ws,
        ):
            frame = await ws.receive(timeout)
    except aiohttp.WSServerHandshakeError as exc:
        return failed(name, f"WebSocket upgrade refused (HTTP {exc.status})", fix)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return failed(name, f"WebSocket connection failed: {_short(str(exc)) or type(exc).__name__}", fix)
    if frame.type == aiohttp.WSMsgType.TEXT and _open_packet(frame.data) is not None:
        return passed(name, f"Engine.IO 4 handshake over WebSocket in {_ms(start)}")
    return failed(name, f"unexpected first WebSocket frame: {_short(str(frame.data))}", fix)


async def cors(http: httpx.AsyncClient, url: str, origin: str) -> Check:
    """What a browser page or extension at ``origin`` is told: the handshake's and the preflight's CORS headers."""
    name = "CORS"
    fix = (
        f"Allow the origin on the server: CORS_ORIGIN={origin} (comma-separate several; * allows any). A browser"
        f' extension can instead list the server in manifest.json: "host_permissions": ["{url}/*"].'
    )
    endpoint = f"{url}{ENGINE_PATH}"
    params = {"EIO": "4", "transport": "polling"}
    try:
        response = await http.get(endpoint, params=params, headers={"Origin": origin})
        preflight = await http.request(
            "OPTIONS",
            endpoint,
            params=params,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
    except httpx.HTTPError as exc:
        return failed(name, f"request failed: {_short(str(exc))}", fix)
    packet = _open_packet(response.text)
    if packet is not None:
        await _close_session(http, url, packet["sid"])
    allowed = response.headers.get("access-control-allow-origin")
    if response.status_code >= 400:
        return failed(
            name, f"the handshake from {origin} was refused: HTTP {response.status_code} {_short(response.text)}", fix
        )
    if allowed not in (origin, "*"):
        got = f"Access-Control-Allow-Origin: {allowed}" if allowed else "no Access-Control-Allow-Origin header"
        return failed(name, f"a page at {origin} is blocked: {got}", fix)
    preflight_allowed = preflight.headers.get("access-control-allow-origin")
    if preflight.status_code >= 400 or preflight_allowed not in (origin, "*"):
        return failed(
            name,
            f"the preflight (OPTIONS) from {origin} is refused: HTTP {preflight.status_code},"
            f" Access-Control-Allow-Origin: {preflight_allowed or 'none'}",
            fix,
        )
    return passed(name, f"{origin} is allowed (Access-Control-Allow-Origin: {allowed}; preflight OK)")
