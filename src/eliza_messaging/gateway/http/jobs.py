"""The Jobs API (``/jobs``): a one-off prompt to an agent, in ElizaOS's routes and shapes.

``POST /jobs`` answers 201 with the job id at once; the agent's reply arrives in the background
and ``GET /jobs/:id`` shows the status (pending, processing, completed, failed, timeout) and the
result. Errors are ElizaOS's ``{success: false, error}`` (with our ``code``). Jobs are stored, so
they are still readable after a restart (``messaging/jobs.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from ...messaging.jobs import Jobs
from ...records import Job
from ...types import JsonObject
from . import schemas
from .bodies import CreateJobBody
from .deps import CallerDep
from .docs import Responses, responses
from .responses import JsonResponse

router = APIRouter(prefix="/jobs", tags=["jobs"])
MAX_LIST = 1000


def jobs(request: Request) -> Jobs:
    service: Jobs = request.app.state.jobs
    return service


Service = Annotated[Jobs, Depends(jobs)]


def _docs(status: int, model: type[BaseModel] | None, *errors: int) -> Responses:
    return responses(status, model, *errors, error_model=schemas.JobErrorBody)


def job_view(job: Job) -> JsonObject:
    """ElizaOS's JobDetailsResponse (``result`` and ``error`` only when there are)."""
    view: JsonObject = {
        "jobId": job.id,
        "status": job.status,
        "agentId": job.agent_id,
        "userId": job.user_id,
        "prompt": job.content,
        "createdAt": job.created_at,
        "expiresAt": job.expires_at,
        "metadata": job.metadata,
    }
    if job.result is not None:
        view["result"] = job.result
    if job.error is not None:
        view["error"] = job.error
    return view


@router.post(
    "",
    status_code=201,
    summary="Send a one-off prompt to an agent; read the answer with GET /jobs/:jobId",
    description=(
        "The agent (agentId, else the first of this server) gets the prompt in a DM channel of the job's own."
        " timeoutMs: 1000-300000 (default 30000). At most ELIZA_JOB_MAX_ACTIVE jobs in progress per user."
    ),
    responses=_docs(201, schemas.JobCreated, 403, 404, 429),
)
async def create_job(body: CreateJobBody, service: Service, caller: CallerDep) -> JsonResponse:
    job = await service.create(body.model_dump(exclude_none=True), caller=caller)
    return JsonResponse(
        {"jobId": job.id, "status": job.status, "createdAt": job.created_at, "expiresAt": job.expires_at},
        status_code=201,
    )


@router.get("/health", summary="Jobs stored by status, and how they ended", responses=_docs(200, schemas.JobsHealth))
async def jobs_health(service: Service) -> JsonResponse:
    return JsonResponse(await service.health())


@router.get(
    "",
    summary="Your jobs, newest first (all of them for the server token)",
    responses=_docs(200, schemas.JobList),
)
async def list_jobs(
    service: Service,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, description="How many (at most 1000; more means 1000)")] = 50,
    status: Annotated[str | None, Query(description="pending, processing, completed, failed or timeout")] = None,
    user_id: Annotated[
        str | None, Query(alias="userId", description="Whose jobs (a caller who shows who it is sees only its own)")
    ] = None,
) -> JsonResponse:
    found, total = await service.listing(caller=caller, limit=min(limit, MAX_LIST), status=status, user_id=user_id)
    return JsonResponse({"jobs": [job_view(j) for j in found], "total": total, "filtered": len(found)})


@router.get(
    "/{job_id}", summary="A job's status and, once answered, its result", responses=_docs(200, schemas.JobDetails, 404)
)
async def get_job(job_id: str, service: Service, caller: CallerDep) -> JsonResponse:
    return JsonResponse(job_view(await service.get(job_id, caller=caller)))
