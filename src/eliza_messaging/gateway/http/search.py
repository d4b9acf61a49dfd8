"""Search over the messaging memory: everywhere the caller may read, or in one channel.

The route only reads parameters and shapes the answer; who may search what, the query language
and the modes are the domain's (``messaging/search.py``). Each result carries the message in the
history shape (``views.rest_message``), its score (higher is better) and a snippet.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from ...messaging.search import MAX_LIMIT, MAX_QUERY_CHARS, SearchResults
from ...messaging.service import MessagingService
from ...protocol.types import DEFAULT_SERVER_ID
from ...types import JsonObject
from . import schemas, views
from .deps import CallerDep, ChannelIdPath, ServiceDep, TimestampQuery, require_uuid, timestamp_ms
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter(tags=["search"])

QueryText = Annotated[
    str | None,
    Query(
        description='Words (all must match), "a phrase", prefix* (e.g. deplo*); unicode, case and accents folded',
        examples=['deploy "release notes"'],
        max_length=MAX_QUERY_CHARS * 4,
    ),
]
ModeQuery = Annotated[
    Literal["keyword", "semantic", "hybrid"] | None,
    Query(description="Default: hybrid when an embedder is configured, else keyword"),
]
LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"How many results (1-{MAX_LIMIT})")]
AuthorQuery = Annotated[
    str | None, Query(alias="authorId", description="Only this author's messages", json_schema_extra={"format": "uuid"})
]


@router.get(
    "/search",
    summary="Search the messages of every channel you may read (keyword, semantic or hybrid)",
    responses=responses(200, schemas.Ok[schemas.SearchResults], 403),
)
async def search_messages(
    service: ServiceDep,
    caller: CallerDep,
    q: QueryText = None,
    channel_id: Annotated[
        str | None, Query(alias="channelId", description="Only this channel", json_schema_extra={"format": "uuid"})
    ] = None,
    author_id: AuthorQuery = None,
    before: TimestampQuery = None,
    after: TimestampQuery = None,
    mode: ModeQuery = None,
    limit: LimitQuery = 20,
) -> JsonResponse:
    if channel_id is not None:
        require_uuid(channel_id, "channelId")
    return await _answer(service, caller, q, channel_id, author_id, before, after, mode, limit)


@router.get("/central-channels/{channel_id}/search", include_in_schema=False)
@router.get(
    "/channels/{channel_id}/search",
    summary="Search one channel's messages (keyword, semantic or hybrid)",
    responses=responses(200, schemas.Ok[schemas.SearchResults], 403),
)
async def search_channel(
    channel_id: ChannelIdPath,
    service: ServiceDep,
    caller: CallerDep,
    q: QueryText = None,
    author_id: AuthorQuery = None,
    before: TimestampQuery = None,
    after: TimestampQuery = None,
    mode: ModeQuery = None,
    limit: LimitQuery = 20,
) -> JsonResponse:
    require_uuid(channel_id, "channelId")
    return await _answer(service, caller, q, channel_id, author_id, before, after, mode, limit)


async def _answer(
    service: MessagingService,
    caller: CallerDep,
    q: str | None,
    channel_id: str | None,
    author_id: str | None,
    before: str | None,
    after: str | None,
    mode: str | None,
    limit: int,
) -> JsonResponse:
    if author_id is not None:
        require_uuid(author_id, "authorId")
    found = await service.search.search(
        caller,
        q,
        channel_id=channel_id,
        author_id=author_id,
        before=timestamp_ms(before, "before"),
        after=timestamp_ms(after, "after"),
        mode=mode,
        limit=limit,
    )
    return ok(await _view(service, found))


async def _view(service: MessagingService, found: SearchResults) -> JsonObject:
    servers: dict[str, str] = {}
    results = []
    for hit in found.hits:
        channel_id = hit.message.channel_id
        if channel_id not in servers:
            channel = await service.channels.get(channel_id)
            servers[channel_id] = channel.message_server_id if channel else DEFAULT_SERVER_ID
        message = views.rest_message(hit.message, servers[channel_id])
        results.append({"message": message, "score": hit.score, "snippet": hit.snippet})
    body: JsonObject = {"results": results, "mode": found.mode}
    if found.notice:
        body["notice"] = found.notice
    return body
