"""The optional API key: with ``ELIZA_SERVER_AUTH_TOKEN`` set, every ``/api`` route needs ``X-API-KEY``.

ElizaOS's rule and 401 body; CORS preflights and the health checks stay open, so load
balancers and browsers work without the key.
"""

from __future__ import annotations

import hmac

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

OPEN_PATHS = frozenset({("GET", "/api/server/ping"), ("GET", "/api/messaging/sessions/health")})
UNAUTHORIZED = orjson.dumps({"error": "API key required", "message": "Missing or invalid X-API-KEY header"})


class ApiKeyMiddleware:
    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http" or self._open(scope):
            await self.app(scope, receive, send)
            return
        offered = next((v for k, v in scope["headers"] if k == b"x-api-key"), b"")
        if hmac.compare_digest(offered, self.token):
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(UNAUTHORIZED))],
            }
        )
        await send({"type": "http.response.body", "body": UNAUTHORIZED})

    @staticmethod
    def _open(scope: Scope) -> bool:
        path: str = scope["path"]
        method: str = scope["method"]
        if not (path == "/api" or path.startswith("/api/")) or method == "OPTIONS":
            return True
        return ("GET" if method == "HEAD" else method, path.rstrip("/") or "/") in OPEN_PATHS
