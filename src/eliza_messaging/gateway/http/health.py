"""Liveness and readiness: ping answers while the process runs; healthz also asks the database."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ... import __version__
from ...messaging.clock import now_ms
from ...messaging.service import MessagingService
from .deps import messaging
from .responses import JsonResponse

router = APIRouter()


@router.get("/api/server/ping", summary="Liveness")
async def ping() -> JsonResponse:
    return JsonResponse({"pong": True, "timestamp": now_ms()})


@router.get("/healthz", summary="Readiness: the database answers")
async def healthz(service: Annotated[MessagingService, Depends(messaging)]) -> JsonResponse:
    healthy = await service.store.ping()
    return JsonResponse(
        {
            "status": "OK" if healthy else "DEGRADED",
            "database": "ok" if healthy else "unreachable",
            "version": __version__,
            "timestamp": now_ms(),
            "connections": len(service.presence),
        },
        status_code=200 if healthy else 503,
    )
