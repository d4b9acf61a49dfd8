"""The OpenAPI document describes every route truthfully: summaries, typed bodies, the errors it answers."""

from __future__ import annotations

from typing import Any

from tests.gateway.http.conftest import App


async def document(app: App) -> dict[str, Any]:
    response = await app.client.get("/openapi.json")
    assert response.status_code == 200
    doc: dict[str, Any] = response.json()
    return doc


async def test_every_operation_has_a_summary_and_documents_its_errors(app: App) -> None:
    doc = await document(app)
    operations = [(m, p, op) for p, ops in doc["paths"].items() for m, op in ops.items()]
    assert len(operations) >= 35
    for method, path, op in operations:
        assert op.get("summary"), (method, path)
        assert "422" not in op["responses"], (method, path)
        if path.startswith("/api/messaging/") and (op.get("parameters") or op.get("requestBody")):
            assert "400" in op["responses"], (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


async def test_bodies_are_typed_and_sessions_use_their_own_error_body(app: App) -> None:
    doc = await document(app)
    post_message = doc["paths"]["/api/messaging/channels/{channel_id}/messages"]["post"]
    assert post_message["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PostMessageBody"
    }
    assert set(post_message["responses"]["200"]["content"]) == {"text/event-stream"}
    create_session = doc["paths"]["/api/messaging/sessions"]["post"]
    error = create_session["responses"]["404"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/SessionErrorBody"}
    assert doc["components"]["schemas"]["PostMessageBody"]["required"] == ["author_id", "content"]


async def test_the_api_key_is_documented_as_optional_and_health_is_open(app: App) -> None:
    doc = await document(app)
    scheme = doc["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme == {**scheme, "type": "apiKey", "in": "header", "name": "X-API-KEY"}
    assert doc["paths"]["/api/messaging/channels"]["post"]["security"] == [{}, {"ApiKeyAuth": []}]
    health = doc["paths"]["/api/messaging/sessions/health"]["get"]
    assert "security" not in health and "401" not in health["responses"]


async def test_interactive_docs(app: App) -> None:
    docs = await app.client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text
