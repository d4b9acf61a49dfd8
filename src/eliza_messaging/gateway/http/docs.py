"""What each route documents besides its success: the error bodies it may answer with.

Every ``/api`` route may answer 400 (bad input, including FastAPI's own validation, which the
app turns into 400), 401 (when ``ELIZA_SERVER_AUTH_TOKEN`` is set) and 503 (the database did
not answer); routes add the others they use (404, 409, ...).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .schemas import AuthErrorBody, ErrorEnvelope, SessionErrorBody

Responses = dict[int | str, dict[str, Any]]

_WHY = {
    400: "Invalid input: the message names the field and the fix",
    404: "Not found",
    409: "Already exists",
    403: "Not allowed for this caller (data isolation, identity)",
    410: "The session has expired",
    413: "Too large: the message gives the limit",
    415: "A type that may not be uploaded: 'allowed' lists those that may",
    429: "Over the rate: retryAfterMs (and Retry-After) say when to try again",
    502: "The agent failed while answering (the user's message is stored)",
    503: "The database did not answer; nothing was changed. Retry.",
    504: "No agent answered in time (the user's message is stored; the reply may still come over Socket.IO)",
}
AUTH: Responses = {
    401: {
        "model": AuthErrorBody,
        "description": "X-API-KEY missing or wrong (only when ELIZA_SERVER_AUTH_TOKEN is set)",
    }
}


def responses(
    status: int,
    model: type[BaseModel] | None,
    *errors: int,
    description: str = "Success",
    session: bool = False,
    error_model: type[BaseModel] | None = None,
) -> Responses:
    """The success ``status`` (with ``model``, or no body), 400, 401, 503 and ``errors``."""
    error_model = error_model or (SessionErrorBody if session else ErrorEnvelope)
    documented: Responses = {status: {"description": description}}
    if model is not None:
        documented[status]["model"] = model
    for code in sorted({400, 503, *errors}):
        documented[code] = {"model": error_model, "description": _WHY[code]}
    documented.update(AUTH)
    return documented


def json_lines(description: str) -> Responses:
    """A streamed JSON Lines answer (status 200): one JSON object per line."""
    return {200: {"description": description, "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}}


def event_stream(description: str) -> Responses:
    """A Server-Sent Events answer (status 200), documented as text/event-stream only."""
    return {200: {"description": description, "content": {"text/event-stream": {"schema": {"type": "string"}}}}}
