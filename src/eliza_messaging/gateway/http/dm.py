"""Direct messages: ``GET /dm-channel`` finds or creates the one DM channel of two users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from ...messaging.dms import DirectMessages
from ...protocol.types import DEFAULT_SERVER_ID
from . import schemas, views
from .deps import CallerDep, direct_messages, require_uuid
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter(tags=["channels"])
UuidQuery = {"format": "uuid"}


@router.get(
    "/dm-channel",
    summary="Find or create the DM channel of two users (the same pair gets the same channel, in either order)",
    responses=responses(200, schemas.Ok[schemas.ChannelView]),
)
async def dm_channel(
    dms: Annotated[DirectMessages, Depends(direct_messages)],
    caller: CallerDep,
    current_user_id: Annotated[str, Query(alias="currentUserId", json_schema_extra=UuidQuery)],
    target_user_id: Annotated[str, Query(alias="targetUserId", json_schema_extra=UuidQuery)],
    dm_server_id: Annotated[
        str | None,
        Query(alias="dmServerId", json_schema_extra=UuidQuery, description="Defaults to the default server"),
    ] = None,
) -> JsonResponse:
    require_uuid(current_user_id, "currentUserId")
    require_uuid(target_user_id, "targetUserId")
    server_id = require_uuid(dm_server_id, "dmServerId") if dm_server_id else DEFAULT_SERVER_ID
    channel = await dms.channel(current_user_id, target_user_id, server_id, caller=caller)
    return ok(views.rest_channel(channel))
