"""ELIZA_SERVER_AUTH_TOKEN: every /api route needs X-API-KEY; health checks and CORS preflights stay open."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tests.conftest import new_id
from tests.gateway.http.conftest import App

TOKEN = "s3cret-token"


async def test_api_routes_need_the_key(app_factory: Callable[..., Awaitable[App]]) -> None:
    app = await app_factory(server_auth_token=TOKEN)
    for method, path in (
        ("GET", "/api/messaging/message-servers"),
        ("POST", "/api/messaging/sessions"),
        ("GET", f"/api/messaging/channels/{new_id()}/messages"),
        ("GET", "/api/agents"),
        ("GET", "/api/messaging/sessions"),
    ):
        for headers in ({}, {"X-API-KEY": "wrong"}, {"X-API-KEY": TOKEN + "x"}):
            response = await app.client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.json() == {"error": "API key required", "message": "Missing or invalid X-API-KEY header"}
    allowed = await app.client.get("/api/messaging/message-servers", headers={"x-api-key": TOKEN})
    assert allowed.status_code == 200


async def test_health_docs_and_preflight_stay_open(app_factory: Callable[..., Awaitable[App]]) -> None:
    app = await app_factory(server_auth_token=TOKEN)
    for path in ("/healthz", "/api/server/ping", "/api/messaging/sessions/health", "/openapi.json", "/docs"):
        assert (await app.client.get(path)).status_code == 200, path
    preflight = await app.client.options(
        "/api/messaging/message-servers",
        headers={"Origin": "http://example.test", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code != 401


async def test_without_a_token_nothing_is_asked(app: App) -> None:
    assert (await app.client.get("/api/messaging/message-servers")).status_code == 200
