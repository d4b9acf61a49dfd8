"""The OpenAPI document, made to tell the truth about what the server answers.

FastAPI documents a 422 for every route with parameters; this app answers 400 instead (see
``responses.install_error_handlers``), so the 422s and their schemas are removed. Server-Sent
Events answers keep only their ``text/event-stream`` content, and routes behind the optional
API key say so.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ...types import JsonObject
from .auth import OPEN_PATHS

API_KEY_SCHEME = "ApiKeyAuth"


def install_openapi(app: FastAPI) -> None:
    def build() -> JsonObject:
        if app.openapi_schema is None:
            app.openapi_schema = _truthful(
                get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            )
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def _error(description: str, schema: str = "ErrorEnvelope") -> JsonObject:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _truthful(document: JsonObject) -> JsonObject:
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            answers = operation.setdefault("responses", {})
            answers.pop("422", None)
            for answer in answers.values():
                content = answer.get("content", {})
                if "text/event-stream" in content:
                    content.pop("application/json", None)
            if not path.startswith("/api/"):
                continue
            # Routes documented elsewhere still answer bad input, unknown ids and a missing key this way.
            if operation.get("parameters") or operation.get("requestBody"):
                answers.setdefault("400", _error("Invalid input: the message names the field and the fix"))
            if "{" in path:
                answers.setdefault("404", _error("Not found"))
            if (method.upper(), path) in OPEN_PATHS:
                answers.pop("401", None)
            else:
                answers.setdefault("401", _error("X-API-KEY missing or wrong", "AuthErrorBody"))
                operation["security"] = [{}, {API_KEY_SCHEME: []}]
    components = document.setdefault("components", {})
    schemas = components.get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    components.setdefault("securitySchemes", {})[API_KEY_SCHEME] = {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-KEY",
        "description": "Needed only when the server runs with ELIZA_SERVER_AUTH_TOKEN set",
    }
    return document
