"""Liveness and readiness. ``ping`` answers while the process runs; ``healthz`` also asks the database
and Redis (when used); ``readyz`` is ``healthz`` that also says 503 while the server is stopping, so a
load balancer stops sending new clients to a node that is draining."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ... import __version__
from ...messaging.clock import now_ms
from ...messaging.service import MessagingService
from ...types import JsonObject
from .deps import messaging
from .responses import JsonResponse

router = APIRouter()
Service = Annotated[MessagingService, Depends(messaging)]


@router.get("/api/server/ping", summary="Liveness")
async def ping() -> JsonResponse:
    return JsonResponse({"pong": True, "timestamp": now_ms()})


@router.get("/healthz", summary="Health: the database and Redis (when used) answer")
async def healthz(service: Service) -> JsonResponse:
    body, healthy = await _report(service)
    return JsonResponse(body, status_code=200 if healthy else 503)


@router.get("/readyz", summary="Readiness: healthy, and not stopping")
async def readyz(service: Service) -> JsonResponse:
    body, healthy = await _report(service)
    stopping = service.gate.closing
    body["accepting"] = not stopping
    if stopping:
        body["status"] = "STOPPING"
    return JsonResponse(body, status_code=200 if healthy and not stopping else 503)


async def _report(service: MessagingService) -> tuple[JsonObject, bool]:
    checks = await service.health()
    healthy = all(ok is not False for ok in checks.values())
    body: JsonObject = {
        "status": "OK" if healthy else "DEGRADED",
        **{name: _word(ok) for name, ok in checks.items()},
        "version": __version__,
        "timestamp": now_ms(),
        "connections": len(service.presence),
    }
    return body, healthy


def _word(ok: bool | None) -> str:
    return "not used" if ok is None else "ok" if ok else "unreachable"
