"""Who calls ``/api``: the server token, a signed token, or nobody in particular.

With ``ELIZA_SERVER_AUTH_TOKEN`` set, every ``/api`` route needs ``X-API-KEY`` (ElizaOS's rule and
401 body), or, when signed tokens are configured, ``Authorization: Bearer <JWT>``; with
``ELIZA_REQUIRE_AUTH`` one of the two is needed even without a server token. The caller found
is left in the request's state for the routes (``deps.caller``). CORS preflights and the
health checks stay open, so load balancers and browsers work without credentials.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from ..callers import Authenticator, Refused

# The version is fetched by the ElizaOS web client without its key (a plain fetch), and tells nothing secret.
OPEN_PATHS = frozenset(
    {
        ("GET", "/api/server/ping"),
        ("GET", "/api/messaging/sessions/health"),
        ("GET", "/api/messaging/jobs/health"),
        ("GET", "/api/system/version"),
    }
)
API_KEY_REFUSAL = "Missing or invalid X-API-KEY header"


class AuthMiddleware:
    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._open(scope):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            caller = await self.authenticator.http(headers)
        except Refused as exc:
            await _refuse(send, exc.reason)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

    @staticmethod
    def _open(scope: Scope) -> bool:
        path: str = scope["path"]
        method: str = scope["method"]
        if not (path == "/api" or path.startswith("/api/")) or method == "OPTIONS":
            return True
        return ("GET" if method == "HEAD" else method, path.rstrip("/") or "/") in OPEN_PATHS


async def _refuse(send: Send, reason: str) -> None:
    error = "API key required" if reason == API_KEY_REFUSAL else "Authentication required"
    body = orjson.dumps({"error": error, "message": reason})
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})
