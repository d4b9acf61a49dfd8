"""Forgetting an entity: ``DELETE /api/messaging/entities/:entityId/messages`` (the entity itself, by
its signed token, or the server token; rules in ``messaging/forgetting.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from ...messaging.forgetting import Forgetting
from . import schemas
from .deps import CallerDep, messaging, require_uuid
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter(tags=["messages"])
EntityIdPath = Annotated[str, Path(description="Entity id (UUID)", json_schema_extra={"format": "uuid"})]


@router.delete(
    "/entities/{entity_id}/messages",
    summary="Forget an entity: delete every message it wrote, in every channel (rooms get messageDeleted)",
    responses=responses(200, schemas.Ok[schemas.EntityForgotten], 403),
)
async def forget_entity(entity_id: EntityIdPath, request: Request, caller: CallerDep) -> JsonResponse:
    require_uuid(entity_id, "entityId")
    deleted = await Forgetting(messaging(request)).forget(caller, entity_id)
    return ok({"entityId": entity_id, "deleted": deleted})
