"""REST bodies are capped before parsing, and REST answers browsers under CORS_ORIGIN like Socket.IO does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from tests.conftest import new_id
from tests.gateway.http.conftest import App

API = "/api/messaging"


async def test_a_body_over_the_cap_is_refused_before_parsing(app_factory: Callable[..., Awaitable[App]]) -> None:
    app = await app_factory(max_frame_bytes=10_000)
    url = f"{API}/channels/{new_id()}/messages"
    declared = await app.client.post(url, content=b"x" * 20_000, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["error"] == {
        "code": "PAYLOAD_TOO_LARGE",
        "message": "The request body is larger than 10000 bytes; send less at once.",
    }

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: counted as it arrives
        for _ in range(30):
            yield b"y" * 1000

    streamed = await app.client.post(url, content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    small = await app.client.post(url, json={"author_id": new_id(), "content": "fits"})
    assert small.status_code == 201


async def test_cors_preflight_and_headers_follow_cors_origin(app_factory: Callable[..., Awaitable[App]]) -> None:
    app = await app_factory(cors_origin="https://chat.example", server_auth_token="k")
    url = f"{API}/channels/{new_id()}/messages"
    preflight = await app.client.options(
        url,
        headers={
            "origin": "https://chat.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type,x-api-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://chat.example"
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    got = await app.client.get(url, headers={"origin": "https://chat.example", "x-api-key": "k"})
    assert got.status_code == 200 and got.headers["access-control-allow-origin"] == "https://chat.example"
    other = await app.client.get(url, headers={"origin": "https://evil.example", "x-api-key": "k"})
    assert "access-control-allow-origin" not in other.headers
