"""What an agent did, as ElizaOS's client reads it: ``/api/agents/:id/runs``, ``/runs/:runId`` and ``/logs``.

Runs are the agent's processing of one message (``messaging/runs.py``); its "logs" are its model
calls, each a ``useModel:<TYPE>`` entry whose body has sizes, duration, model and outcome but never
the prompt or the reply (ElizaOS puts both there; here anyone who may list agents could read them).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ...messaging.clock import iso
from ...messaging.directory import AgentDirectory
from ...messaging.errors import InvalidPayload, NotFound
from ...messaging.runs import STATUSES
from ...records import AgentRun, ModelCall
from . import schemas
from .deps import AgentIdPath, CallerDep, ServiceDep, require_uuid
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter(tags=["agents"])

MAX_RUNS = 100  # runs in one answer, as ElizaOS caps them
DEFAULT_RUNS = 20
MAX_LOGS = 500  # model calls in one answer
DEFAULT_LOGS = 100


def _known_agent(request: Request, agent_id: str) -> str:
    require_uuid(agent_id, "agentId")
    directory: AgentDirectory = request.app.state.agents
    if directory.profile(agent_id) is None:
        raise NotFound(f"No agent {agent_id} on this server; GET /api/agents lists them.", field="agentId")
    return agent_id


def _room(room_id: str | None) -> str | None:
    return require_uuid(room_id, "roomId") if room_id else None


def _count(value: str | None, name: str, default: int, most: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise InvalidPayload(
            f"{name} must be a whole number from 1 to {most}, not {value[:20]!r}.", field=name
        ) from None
    if number < 1:
        raise InvalidPayload(f"{name} must be a whole number from 1 to {most}, not {number}.", field=name)
    return min(number, most)


def run_summary(run: AgentRun) -> dict[str, Any]:
    """ElizaOS's ``RunSummary``: times in epoch milliseconds, counts of what happened."""
    summary: dict[str, Any] = {
        "runId": run.id,
        "status": run.status,
        "startedAt": run.started_at,
        "endedAt": run.ended_at,
        "durationMs": run.ended_at - run.started_at if run.ended_at is not None else None,
        "messageId": run.message_id,
        "roomId": run.channel_id,
        "entityId": run.entity_id,
        "counts": {
            "actions": 1 if run.outcome == "replied" else 0,
            "modelCalls": run.model_calls,
            "errors": run.errors + (run.status == "error" or run.status == "timeout"),
            "evaluators": 0,
        },
        "metadata": {"outcome": run.outcome or "in progress", **({"error": run.error} if run.error else {})},
    }
    return summary


def _model_used(call: ModelCall) -> dict[str, Any]:
    return {
        "type": "MODEL_USED",
        "timestamp": call.started_at,
        "data": {
            "modelType": call.kind,
            "provider": call.model,
            "executionTime": call.duration_ms,
            "promptChars": call.prompt_chars,
            "responseChars": call.response_chars,
            "outcome": call.outcome,
        },
    }


def run_events(run: AgentRun) -> list[dict[str, Any]]:
    """ElizaOS's run timeline: started, each model call, the reply action, ended; oldest first."""
    events: list[dict[str, Any]] = [
        {
            "type": "RUN_STARTED",
            "timestamp": run.started_at,
            "data": {"source": "messaging", "messageId": run.message_id},
        }
    ]
    events += [_model_used(c) for c in run.calls]
    if run.ended_at is not None:
        if run.outcome == "replied":
            events.append(
                {
                    "type": "ACTION_COMPLETED",
                    "timestamp": run.ended_at,
                    "data": {"actionName": "REPLY", "success": True},
                }
            )
        ended: dict[str, Any] = {"status": run.status, "durationMs": run.ended_at - run.started_at}
        if run.error:
            ended["error"] = run.error
        events.append({"type": "RUN_ENDED", "timestamp": run.ended_at, "data": ended})
    events.sort(key=lambda e: e["timestamp"])
    return events


def model_call_log(run: AgentRun, call: ModelCall) -> dict[str, Any]:
    """One model call as an ElizaOS log entry (``type`` ``useModel:<TYPE>``), without any text."""
    return {
        "id": call.id,
        "entityId": run.agent_id,
        "roomId": run.channel_id,
        "type": f"useModel:{call.kind}",
        "createdAt": iso(call.started_at),
        "body": {
            "modelType": call.kind,
            "modelKey": call.kind,
            "provider": call.model,
            "executionTime": call.duration_ms,
            "promptChars": call.prompt_chars,
            "responseChars": call.response_chars,
            "outcome": call.outcome,
            "runId": run.id,
            "messageId": run.message_id,
        },
    }


@router.get(
    "/api/agents/{agent_id}/runs",
    summary="An agent's runs (its processing of each message), newest first",
    responses=responses(200, schemas.Ok[schemas.RunList], 404),
)
async def list_runs(
    agent_id: AgentIdPath,
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
    room_id: Annotated[str | None, Query(alias="roomId")] = None,
    status: str | None = None,
    limit: str | None = None,
) -> JsonResponse:
    _known_agent(request, agent_id)
    if status not in (None, "", "all", *STATUSES):
        raise InvalidPayload(f"status must be one of all, {', '.join(STATUSES)}; got {status[:20]!r}.", field="status")
    page = await service.runs.page(
        caller,
        agent_id,
        limit=_count(limit, "limit", DEFAULT_RUNS, MAX_RUNS),
        channel_id=_room(room_id),
        status=None if status in (None, "", "all") else status,
    )
    return ok({"runs": [run_summary(r) for r in page.runs], "total": page.total, "hasMore": page.has_more})


@router.get(
    "/api/agents/{agent_id}/runs/{run_id}",
    summary="One run with its timeline",
    responses=responses(200, schemas.Ok[schemas.RunDetail], 404),
)
async def get_run(
    agent_id: AgentIdPath, run_id: str, request: Request, service: ServiceDep, caller: CallerDep
) -> JsonResponse:
    _known_agent(request, agent_id)
    require_uuid(run_id, "runId")
    run = await service.runs.get(caller, agent_id, run_id)
    if run is None:
        raise NotFound(
            f"No run {run_id} of agent {agent_id}; GET /api/agents/{agent_id}/runs lists them.", field="runId"
        )
    return ok({"summary": run_summary(run), "events": run_events(run)})


@router.get(
    "/api/agents/{agent_id}/logs",
    summary="An agent's model calls (sizes and timing, no text), newest first",
    responses=responses(200, schemas.Ok[list[schemas.ModelCallLog]], 404),
)
async def list_model_calls(
    agent_id: AgentIdPath,
    request: Request,
    service: ServiceDep,
    caller: CallerDep,
    room_id: Annotated[str | None, Query(alias="roomId")] = None,
    limit: str | None = None,
    count: str | None = None,
    type: str | None = None,
) -> JsonResponse:
    _known_agent(request, agent_id)
    wanted = _count(limit if limit is not None else count, "limit", DEFAULT_LOGS, MAX_LOGS)
    # Every run holds at least one call when it holds any; reading as many runs as calls wanted is enough.
    page = await service.runs.page(caller, agent_id, limit=min(wanted, MAX_RUNS), channel_id=_room(room_id))
    entries = [model_call_log(run, call) for run in page.runs for call in reversed(run.calls)]
    if type:
        entries = [e for e in entries if e["type"] == type]
    return ok(entries[:wanted])
