"""The server itself, as ElizaOS's web client asks about it: version, server logs, the local environment.

``/api/system/version`` answers unwrapped (``{version, source, timestamp, environment, uptime}``), as
ElizaOS does. ``/api/server/logs`` gives the log stream's recent entries (``logstream.py``: this server's
own records, no message text), filtered by level and agent, unwrapped like ElizaOS's. ElizaOS's
``/api/system/env/local`` returns the server's whole environment, secrets included; here it answers
only the variables an operator names in ``ELIZA_PUBLIC_ENV`` (none by default), and never one whose
name looks like a credential (refused at start-up, ``public_environment``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ... import __version__
from ...messaging.clock import iso, now_ms
from ..logstream import ALL, LEVELS, LogStream
from . import schemas
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter(tags=["system"])

SOURCE = "eliza-messaging"
SECRET_HINTS = ("secret", "key", "token", "password", "passwd", "credential", "private", "auth", "dsn", "url")


def public_environment(names: Sequence[str], env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The named variables that are set; ValueError naming any that looks like a credential, since the
    answer is readable by whoever may call the API."""
    risky = [n for n in names if any(h in n.lower() for h in SECRET_HINTS)]
    if risky:
        raise ValueError(
            f"ELIZA_PUBLIC_ENV names {', '.join(risky)}, which look like credentials or addresses with"
            " credentials; /api/system/env/local would show them to any API caller. Leave them out."
        )
    return {n: env[n] for n in names if n in env}


@router.get(
    "/api/system/version",
    summary="This server's version (unwrapped, as ElizaOS answers)",
    responses={200: {"model": schemas.VersionInfo, "description": "Success"}},
)
async def version(request: Request) -> JsonResponse:
    started: float = request.app.state.started_monotonic
    return JsonResponse(
        {
            "version": __version__,
            "source": SOURCE,
            "timestamp": iso(now_ms()),
            "environment": request.app.state.environment,
            "uptime": round(time.monotonic() - started, 3),
        }
    )


@router.get(
    "/api/system/env/local",
    summary="The environment variables an operator chose to show (ELIZA_PUBLIC_ENV)",
    responses=responses(200, schemas.Ok[dict[str, str]]),
)
async def local_environment(request: Request) -> JsonResponse:
    shown: dict[str, str] = request.app.state.public_env
    return ok(dict(shown))


@router.get(
    "/api/server/logs",
    summary="Recent server log entries, newest first (unwrapped, as ElizaOS answers)",
    responses=responses(200, schemas.ServerLogs),
)
async def server_logs(
    request: Request,
    level: str = "",
    agent_name: Annotated[str | None, Query(alias="agentName")] = None,
    limit: int = Query(100, ge=1, le=1000),
) -> JsonResponse:
    logs: LogStream = request.app.state.components.logs
    requested = level or ALL
    entries, total = logs.recent(level=requested, agent_name=agent_name)
    shown: list[Any] = entries[:limit]
    return JsonResponse(
        {
            "logs": shown,
            "count": len(shown),
            "total": total,
            "requestedLevel": requested,
            "agentName": agent_name or ALL,
            "levels": [ALL, *(name for name in LEVELS if name != "warning")],
        }
    )
