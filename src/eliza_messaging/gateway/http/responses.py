"""The ElizaOS response envelope and the translation of our errors into it."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from ...messaging.errors import MessagingError


class JsonResponse(JSONResponse):
    """JSON rendered by orjson (fast, and strict about what is JSON)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def ok(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse({"success": True, "data": data}, status_code=status)


def error(status: int, code: str, message: str, **details: Any) -> JsonResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    body.update({k: v for k, v in details.items() if v is not None})
    return JsonResponse({"success": False, "error": body}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MessagingError)
    async def messaging_error(_: Request, exc: MessagingError) -> JsonResponse:
        return error(exc.status, exc.code, exc.message, field=exc.field)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JsonResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}"
            for e in exc.errors()
        ]
        return error(400, "VALIDATION_ERROR", "; ".join(problems) or "The request is not valid.")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JsonResponse:
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 401: "UNAUTHORIZED"}.get(exc.status_code, "HTTP_ERROR")
        return error(exc.status_code, code, str(exc.detail))
