"""The ElizaOS response envelope and the translation of our errors into it.

Most routes answer ``{success: true, data}`` or ``{success: false, error: {code, message}}``;
the Sessions API answers ElizaOS's own ``{error: {code, message, timestamp}}`` for every
error under its prefix, including FastAPI's validation errors.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from ...messaging import metrics
from ...messaging.clock import iso, now_ms
from ...messaging.errors import MessagingError, RateLimited, UnsupportedMediaType

SESSIONS_PREFIX = "/api/messaging/sessions"
JOBS_PREFIX = "/api/messaging/jobs"


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


def session_error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "timestamp": iso(now_ms())}}, status_code=status)


def job_error(status: int, code: str, message: str, **details: Any) -> JsonResponse:
    """ElizaOS's jobs error, ``{success: false, error: <sentence>}``, with our code and details beside it."""
    body: dict[str, Any] = {"success": False, "error": message, "code": code}
    body.update({k: v for k, v in details.items() if v is not None})
    return JsonResponse(body, status_code=status)


def _under(request: Request, prefix: str) -> bool:
    path = request.url.path
    return path == prefix or path.startswith(prefix + "/")


def _in_sessions(request: Request) -> bool:
    return _under(request, SESSIONS_PREFIX)


def _answer(
    request: Request, status: int, code: str, message: str, field: str | None = None, **details: Any
) -> JsonResponse:
    metrics.ERRORS.labels(code).inc()
    if _in_sessions(request):
        return session_error(status, code, message)
    if _under(request, JOBS_PREFIX):
        return job_error(status, code, message, field=field, **details)
    return error(status, code, message, field=field, **details)


def _where(e: Any) -> str:
    return ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"


def _problem(e: Any) -> str:
    where = _where(e)
    if e.get("type") == "json_invalid":
        return f"The request body is not valid JSON ({e.get('ctx', {}).get('error', 'cannot be parsed')})."
    if where == "body" and e.get("type") in ("model_attributes_type", "dict_type"):
        return "The request body must be a JSON object, sent with Content-Type: application/json."
    message = str(e.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{where}: {message}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MessagingError)
    async def messaging_error(request: Request, exc: MessagingError) -> JsonResponse:
        if isinstance(exc, UnsupportedMediaType):
            return _answer(request, exc.status, exc.code, exc.message, exc.field, allowed=exc.allowed)
        if isinstance(exc, RateLimited):
            answer = _answer(request, exc.status, exc.code, exc.message, retryAfterMs=exc.retry_after_ms)
            answer.headers["Retry-After"] = str(-(-exc.retry_after_ms // 1000))
            return answer
        several = exc.fields if len(exc.fields) > 1 else None
        return _answer(request, exc.status, exc.code, exc.message, exc.field, fields=several)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JsonResponse:
        problems = [_problem(e) for e in exc.errors()]
        fields = list(dict.fromkeys(_where(e) for e in exc.errors()))
        return _answer(
            request,
            400,
            "VALIDATION_ERROR",
            "; ".join(problems) or "The request is not valid.",
            fields[0] if len(fields) > 1 else None,
            fields=fields if len(fields) > 1 else None,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JsonResponse:
        code = {
            400: "VALIDATION_ERROR",
            404: "NOT_FOUND",
            405: "METHOD_NOT_ALLOWED",
            401: "UNAUTHORIZED",
        }.get(exc.status_code, "HTTP_ERROR")
        detail = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in detail:
            detail = "The request body could not be read as JSON (is it nested too deeply?). Send a JSON object."
        return _answer(request, exc.status_code, code, detail)
