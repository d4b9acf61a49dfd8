"""A cap on REST request bodies, checked before anything parses them.

FastAPI reads a whole body into memory before a route sees it, so without this one large POST
can take a gigabyte of memory and stall the event loop. The body is read here, up to the cap,
and handed on; past the cap the answer is 413 with the limit in the message.

Routes that stream their body themselves (uploads, ``streamed``: path patterns and their own cap)
get it unbuffered: only a declared Content-Length past their cap is refused here, and the route
counts what it reads against the same cap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int, streamed: Iterable[tuple[str, int]] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.streamed = [(re.compile(pattern), cap) for pattern, cap in streamed]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        own_cap = next((cap for pattern, cap in self.streamed if pattern.match(scope["path"])), None)
        if own_cap is not None:
            if declared is not None and declared.isdigit() and int(declared) > own_cap:
                await self._refuse(send, own_cap)
                return
            await self.app(scope, receive, send)
            return
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, self.max_bytes)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; let the app see it
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send, self.max_bytes)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return message
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(send: Send, cap: int) -> None:
        body = orjson.dumps(
            {
                "success": False,
                "error": {
                    "code": "PAYLOAD_TOO_LARGE",
                    "message": f"The request body is larger than {cap} bytes; send less at once.",
                },
            }
        )
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
