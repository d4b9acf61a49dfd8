"""The Sessions API (``/sessions``): ElizaOS's shapes, limits and ``{error: {code, message}}`` errors.

Sessions are stored, so they outlive a restart. A session message with transport ``http`` or
``sse`` is stored and broadcast like any other, and so is the agent's reply.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import BaseModel

from ...messaging.clock import iso
from ...messaging.sessions import DEFAULT_PAGE, Sessions, SessionSend, near_expiration, parse_transport
from ...messaging.sessions import MAX_PAGE as SESSION_MAX_PAGE
from . import schemas, views
from .bodies import CreateSessionBody, SessionMessageBody, TimeoutConfigBody
from .deps import MAX_TIMESTAMP_MS, AfterSeqQuery, BeforeSeqQuery, CallerDep, reply_timeout, sessions
from .docs import Responses, event_stream, responses
from .replies import answer_with_reply
from .responses import JsonResponse

router = APIRouter(prefix="/sessions", tags=["sessions"])
Service = Annotated[Sessions, Depends(sessions)]
STARTED = time.monotonic()


def _docs(status: int, model: type[BaseModel] | None, *errors: int) -> Responses:
    return responses(status, model, *errors, session=True)


@router.get(
    "/health",
    summary="Sessions health: active sessions and those about to expire",
    responses=_docs(200, schemas.SessionsHealth),
)
async def health(service: Service) -> JsonResponse:
    _, active, expiring = await service.counts()
    return JsonResponse(
        {
            "status": "healthy",
            "activeSessions": active,
            "expiringSoon": expiring,
            "timestamp": iso(service.now()),
            "uptime": round(time.monotonic() - STARTED, 3),
        }
    )


@router.post(
    "",
    status_code=201,
    summary="Create a session with an agent (a DM channel of its own)",
    responses=_docs(201, schemas.SessionCreated, 404),
)
async def create_session(body: CreateSessionBody, service: Service, caller: CallerDep) -> JsonResponse:
    timeout = body.timeoutConfig.model_dump(exclude_none=True) if body.timeoutConfig else None
    session = await service.create(
        agent_id=body.agentId, user_id=body.userId, caller=caller, metadata=body.metadata, timeout_config=timeout
    )
    return JsonResponse(views.session_created(session), status_code=201)


@router.get(
    "",
    summary="Active sessions: the caller's own (its token's subject), or all of them with the server token",
    responses=_docs(200, schemas.SessionList),
)
async def list_sessions(service: Service, caller: CallerDep) -> JsonResponse:
    now = service.now()
    active, stored, live = await service.visible(caller)
    return JsonResponse(
        {
            "sessions": [views.session_info(s, now) for s in active],
            "total": len(active),
            "stats": {"totalSessions": stored, "activeSessions": live, "expiredSessions": stored - live},
        }
    )


@router.get("/{session_id}", summary="A session and its time left", responses=_docs(200, schemas.SessionInfo, 404, 410))
async def get_session(session_id: str, service: Service, caller: CallerDep) -> JsonResponse:
    session = await service.get(session_id, caller=caller)
    return JsonResponse(views.session_info(session, service.now()))


@router.post(
    "/{session_id}/messages",
    status_code=201,
    summary="Send a message in a session",
    description=(
        "transport 'websocket' (default) answers at once, the reply arrives over Socket.IO; 'http' waits for"
        " the agent's reply; 'sse' streams user_message, chunk, done and error events. Every message and"
        " reply is stored and broadcast to the session's channel."
    ),
    responses={
        **_docs(201, schemas.SessionMessageSent, 404, 410, 502, 504),
        **event_stream("transport sse: user_message, chunk..., then done (the reply) or error"),
    },
)
async def send_session_message(
    session_id: str,
    body: SessionMessageBody,
    service: Service,
    timeout_s: Annotated[float, Depends(reply_timeout)],
    caller: CallerDep,
) -> Response:
    transport = parse_transport(body.transport if body.transport is not None else body.mode)
    content, attachments, metadata = body.content, body.attachments, body.metadata
    if transport == "websocket":
        sent = await service.send(
            session_id, content=content, attachments=attachments, caller=caller, metadata=metadata
        )
        return _sent(sent, service.now())
    sent = await service.send(
        session_id, content=content, attachments=attachments, caller=caller, metadata=metadata, watch=True
    )
    assert sent.watch is not None
    return await answer_with_reply(
        transport,
        sent.result,
        sent.watch,
        agents=[sent.session.agent_id],
        timeout_s=timeout_s,
        posted=lambda reply: _sent(sent, service.now(), agentResponse=reply),
    )


def _sent(sent: SessionSend, now: int, **extra: object) -> JsonResponse:
    status = {
        "expiresAt": iso(sent.session.expires_at),
        "renewalCount": sent.session.renewal_count,
        "wasRenewed": sent.was_renewed,
        "isNearExpiration": near_expiration(sent.session, now),
    }
    message = views.bus_message(sent.result.message, sent.result.channel.message_server_id)
    return JsonResponse({"success": True, "userMessage": message, "sessionStatus": status, **extra}, status_code=201)


@router.get(
    "/{session_id}/messages",
    summary="A session's messages, newest first, with cursors for paging",
    responses=_docs(200, schemas.SessionMessages, 404, 410),
)
async def session_messages(
    session_id: str,
    service: Service,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, description="How many (at most 100; larger values mean 100)")] = DEFAULT_PAGE,
    before: Annotated[int | None, Query(ge=0, le=MAX_TIMESTAMP_MS, description="Older than (epoch ms)")] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_TIMESTAMP_MS, description="Newer than (epoch ms)")] = None,
    after_seq: AfterSeqQuery = None,
    before_seq: BeforeSeqQuery = None,
) -> JsonResponse:
    page = await service.history(
        session_id, caller=caller, limit=limit, before=before, after=after, before_seq=before_seq, after_seq=after_seq
    )
    messages = page.messages
    return JsonResponse(
        {
            "messages": [views.simplified_message(m) for m in messages],
            "hasMore": page.has_more,
            "limit": min(limit, SESSION_MAX_PAGE),
            "cursors": {
                "before": messages[-1].created_at if messages else None,
                "after": messages[0].created_at if messages else None,
                "beforeSeq": messages[-1].seq if messages else None,
                "afterSeq": messages[0].seq if messages else None,
            },
        }
    )


@router.post(
    "/{session_id}/renew",
    summary="Renew a session now (allowed with auto-renew off; not past its maximum duration)",
    responses=_docs(200, schemas.SessionInfo, 404, 410),
)
async def renew_session(session_id: str, service: Service, caller: CallerDep) -> JsonResponse:
    session = await service.renew(session_id, caller=caller)
    return JsonResponse(views.session_info(session, service.now()))


@router.post(
    "/{session_id}/heartbeat",
    summary="Keep a session alive (renews it when auto-renew is on)",
    responses=_docs(200, schemas.SessionInfo, 404, 410),
)
async def heartbeat(session_id: str, service: Service, caller: CallerDep) -> JsonResponse:
    session = await service.heartbeat(session_id, caller=caller)
    return JsonResponse(views.session_info(session, service.now()))


@router.patch(
    "/{session_id}/timeout",
    summary="Change a session's timeout policy (timeoutMinutes 5-1440)",
    responses=_docs(200, schemas.SessionInfo, 404, 410),
)
async def update_timeout(
    session_id: str, service: Service, body: Annotated[TimeoutConfigBody, Body()], caller: CallerDep
) -> JsonResponse:
    session = await service.update_timeout(session_id, body.model_dump(exclude_none=True), caller=caller)
    return JsonResponse(views.session_info(session, service.now()))


@router.delete("/{session_id}", summary="End a session", responses=_docs(200, schemas.SessionDeleted, 404))
async def delete_session(session_id: str, service: Service, caller: CallerDep) -> JsonResponse:
    await service.delete(session_id, caller=caller)
    return JsonResponse({"success": True, "message": f"Session {session_id} deleted successfully"})
