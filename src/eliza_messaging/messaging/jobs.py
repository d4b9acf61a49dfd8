"""The Jobs API: a one-off prompt to an agent, answered in the background and kept in the store.

As ElizaOS does it, a job gets a channel of its own (a DM of the user and the agent), its prompt is
sent there as the user's message through the ordinary send path, and the agent's first reply is
the result. Unlike ElizaOS, jobs are stored (SQLite or PostgreSQL), so they can be read after a
restart. A job still pending or processing when the server stopped is resumed on start: if the
agent's reply was stored meanwhile the job completes with it; if its time is up it times out,
saying the server restarted; otherwise the wait goes on for the time left (the stored prompt is
published again by the outbox if it never was, and a Redis queue hands it to an agent again).
Bounded: jobs in progress per user, jobs stored in all (the oldest finished go first), and
finished jobs are removed after the retention time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import orjson

from ..protocol.commands import SendMessage
from ..protocol.types import DEFAULT_SERVER_ID, ChannelType
from ..records import Channel, Job, Message
from ..types import JsonObject, is_uuid
from .clock import new_id, now_ms
from .errors import AgentUnavailable, InvalidPayload, NotFound, ReplyTimeout, TooManyJobs
from .identity import Caller, same_id
from .replies import Watch, await_reply
from .service import MessagingService
from .validation import check_json, check_text, display_name

log = logging.getLogger(__name__)

PENDING: Final = "pending"
PROCESSING: Final = "processing"
COMPLETED: Final = "completed"
FAILED: Final = "failed"
TIMEOUT: Final = "timeout"
STATUSES: Final = (PENDING, PROCESSING, COMPLETED, FAILED, TIMEOUT)
FINISHED: Final = frozenset({COMPLETED, FAILED, TIMEOUT})

# ElizaOS's JobValidation bounds.
MIN_TIMEOUT_MS: Final = 1_000
MAX_TIMEOUT_MS: Final = 5 * 60_000
DEFAULT_TIMEOUT_MS: Final = 30_000
MAX_CONTENT_CHARS: Final = 50_000
MAX_METADATA_BYTES: Final = 10 * 1024
# A job another node was running, read after its time plus this much, is reported timed out.
STALE_GRACE_MS: Final = 5_000

TIMED_OUT = "Job timed out waiting for agent response"
RESTARTED = " (the server restarted while the job was in progress, which may have lost the agent's work; send it again)"


@dataclass(frozen=True, slots=True)
class JobLimits:
    max_active_per_user: int = 10
    max_stored: int = 10_000
    retention_ms: int = 24 * 60 * 60_000


@dataclass(frozen=True, slots=True)
class JobRequest:
    agent_id: str | None
    user_id: str
    content: str
    timeout_ms: int
    metadata: JsonObject


def read_request(body: Mapping[str, Any]) -> JobRequest:
    """ElizaOS's checks of a job request, every wrong field named in one error."""
    problems: list[tuple[str, str]] = []
    agent_id, user_id, content = body.get("agentId"), body.get("userId"), body.get("content")
    if agent_id is not None and not is_uuid(agent_id):
        problems.append(("agentId", "agentId must be a valid UUID string (or left out: the first agent is used)."))
    if not is_uuid(user_id):
        problems.append(("userId", "userId is required and must be a valid UUID string."))
    if not isinstance(content, str) or not content:
        problems.append(("content", "content is required and must be a non-empty string."))
    elif len(content) > MAX_CONTENT_CHARS:
        problems.append(("content", f"content exceeds maximum length of {MAX_CONTENT_CHARS} characters."))
    metadata = body.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        problems.append(("metadata", "metadata must be an object."))
    elif metadata is not None and len(orjson.dumps(metadata)) > MAX_METADATA_BYTES:
        problems.append(("metadata", f"metadata exceeds maximum size of {MAX_METADATA_BYTES} bytes."))
    timeout = body.get("timeoutMs", DEFAULT_TIMEOUT_MS)
    if timeout is None:
        timeout = DEFAULT_TIMEOUT_MS
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not MIN_TIMEOUT_MS <= timeout <= MAX_TIMEOUT_MS
    ):
        problems.append(
            ("timeoutMs", f"timeoutMs must be a number of milliseconds from {MIN_TIMEOUT_MS} to {MAX_TIMEOUT_MS}.")
        )
    if problems:
        fields = [f for f, _ in problems]
        head = f"{len(problems)} fields need fixing ({', '.join(fields)}): " if len(problems) > 1 else ""
        raise InvalidPayload(head + " ".join(m for _, m in problems), field=fields[0], fields=fields)
    assert isinstance(user_id, str) and isinstance(content, str) and isinstance(timeout, int | float)
    return JobRequest(agent_id, user_id, content, int(timeout), metadata or {})


def result_of(reply: Message, created_at: int) -> JsonObject:
    """ElizaOS's job result: the agent's message and how long it took."""
    return {
        "message": {
            "id": reply.id,
            "content": reply.content,
            "authorId": reply.author_id,
            "createdAt": reply.created_at,
            "metadata": reply.metadata,
        },
        "processingTimeMs": max(0, reply.created_at - created_at),
    }


class Jobs:
    def __init__(
        self, service: MessagingService, *, limits: JobLimits | None = None, clock: Callable[[], int] = now_ms
    ) -> None:
        self._service = service
        self._store = service.store
        self.limits = limits or JobLimits()
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()

    # lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume the jobs a stop left pending or processing (see the module's docstring)."""
        for job in await self._store.list_unfinished_jobs():
            try:
                await self._resume(job)
            except Exception:
                log.exception("a stored job could not be resumed", extra={"job": job.id})

    async def close(self) -> None:
        """Stop waiting (jobs in progress stay stored as they are and are resumed on the next start)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def running(self) -> int:
        return len(self._tasks)

    # the API ----------------------------------------------------------------------------

    async def create(self, body: Mapping[str, Any], *, caller: Caller) -> Job:
        request = read_request(body)
        check_text(request.content, "content", self._service.limits, max_chars=MAX_CONTENT_CHARS)
        check_json(request.metadata, "metadata", self._service.limits)
        agent_id = await self._agent(request.agent_id)
        await self._service.identity.check(caller, request.user_id, "userId")
        if self._service.access.restricted(caller):
            self._service.access.identified(caller, "(a new job)")
        await self._make_room(request.user_id)
        now = self._clock()
        job = Job(
            id=new_id(),
            agent_id=agent_id,
            user_id=request.user_id,
            channel_id=new_id(),
            content=request.content,
            status=PENDING,
            created_at=now,
            expires_at=now + request.timeout_ms,
            metadata=request.metadata,
        )
        channel = await self._store.ensure_channel(
            Channel(
                id=job.channel_id,
                message_server_id=DEFAULT_SERVER_ID,
                name=f"job-{job.id}",
                type=ChannelType.DM,
                source_type="job",
                metadata={
                    **request.metadata,
                    "jobId": job.id,
                    "agentId": agent_id,
                    "userId": job.user_id,
                    "isJobChannel": True,
                },
                created_at=now,
                updated_at=now,
            ),
            participants=[agent_id, job.user_id],
        )
        self._service.channels.remember(channel)
        await self._store.save_job(job)
        command = SendMessage(
            channel_id=channel.id,
            server_id=DEFAULT_SERVER_ID,
            sender_id=job.user_id,
            sender_name=display_name(request.metadata),
            text=job.content,
            client_message_id=None,
            source="job_request",
            attachments=[],
            metadata={**request.metadata, "jobId": job.id, "isJobMessage": True},
            target_user_id=agent_id,
        )
        try:
            sent, watch = await self._service.send_watched(command, caller=caller)
        except Exception as exc:
            reason = getattr(exc, "message", None) or "the prompt could not be stored"
            await self._finish(job, FAILED, error=f"Failed to create user message: {reason}")
            raise
        job = replace(job, status=PROCESSING, user_message_id=sent.message.id)
        await self._store.save_job(job)
        self._spawn(job, watch)
        return job

    async def get(self, job_id: str, *, caller: Caller) -> Job:
        job = await self._store.get_job(job_id) if is_uuid(job_id) else None
        if job is None or not self._may_see(job, caller):
            raise NotFound("Job not found", field="jobId")
        if job.status not in FINISHED and self._clock() > job.expires_at + STALE_GRACE_MS:
            # the node that ran it stopped without finishing it, and has not resumed it
            job = await self._finish(job, TIMEOUT, error=TIMED_OUT + RESTARTED)
        return job

    async def listing(
        self, *, caller: Caller, limit: int, status: str | None, user_id: str | None
    ) -> tuple[list[Job], int]:
        """(the jobs this caller may see, newest first, of ``status``; how many it may see in all)."""
        if status is not None and status not in STATUSES:
            status = None  # ElizaOS ignores an unknown status
        if not caller.trusted:
            if caller.entity_id is not None:
                user_id = caller.entity_id
            elif self._service.access.restricted(caller) or user_id is None:
                return [], 0
        jobs = await self._store.list_jobs(limit=limit, status=status, user_id=user_id)
        total = sum((await self._store.job_counts(user_id=user_id)).values())
        return jobs, total

    async def health(self) -> JsonObject:
        counts = await self._store.job_counts()
        statuses = {s: counts.get(s, 0) for s in STATUSES}
        finished = statuses[COMPLETED] + statuses[FAILED] + statuses[TIMEOUT]

        def rate(n: int) -> float:
            return round(n / finished, 2) if finished else 0.0

        return {
            "healthy": True,
            "timestamp": self._clock(),
            "totalJobs": sum(statuses.values()),
            "statusCounts": statuses,
            "metrics": {
                "averageProcessingTimeMs": round(await self._store.completed_job_average_ms()),
                "successRate": rate(statuses[COMPLETED]),
                "failureRate": rate(statuses[FAILED]),
                "timeoutRate": rate(statuses[TIMEOUT]),
            },
            "maxJobs": self.limits.max_stored,
        }

    # inside -----------------------------------------------------------------------------

    async def _agent(self, wanted: str | None) -> str:
        agents = await self._store.list_server_agents(DEFAULT_SERVER_ID)
        if wanted is None:
            if not agents:
                raise NotFound("No agents available on server", field="agentId")
            return agents[0]
        if not any(same_id(wanted, a) for a in agents):
            raise NotFound(f"Agent {wanted} not found", field="agentId")
        return wanted

    def _may_see(self, job: Job, caller: Caller) -> bool:
        if caller.trusted:
            return True
        if caller.entity_id is not None:
            return same_id(caller.entity_id, job.user_id)
        return not self._service.access.restricted(caller)

    async def _make_room(self, user_id: str) -> None:
        """Apply the bounds before a new job: the user's jobs in progress, retention, the stored total."""
        mine = await self._store.job_counts(user_id=user_id)
        active = mine.get(PENDING, 0) + mine.get(PROCESSING, 0)
        if active >= self.limits.max_active_per_user:
            raise TooManyJobs(
                f"{user_id} has {active} jobs in progress, the most one user may have"
                f" ({self.limits.max_active_per_user}). Wait for one to finish (GET /api/messaging/jobs/:id).",
                field="userId",
            )
        await self._store.delete_jobs_finished_before(self._clock() - self.limits.retention_ms)
        stored = sum((await self._store.job_counts()).values())
        if stored >= self.limits.max_stored:
            await self._store.delete_oldest_finished_jobs(stored - self.limits.max_stored + 1)
            stored = sum((await self._store.job_counts()).values())
        if stored >= self.limits.max_stored:
            raise TooManyJobs(
                f"The server holds its maximum of {self.limits.max_stored} jobs, all in progress. Try again later."
            )

    def _spawn(self, job: Job, watch: Watch, *, restarted: bool = False) -> None:
        task = asyncio.create_task(self._wait(job, watch, restarted=restarted), name=f"job-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _wait(self, job: Job, watch: Watch, *, restarted: bool) -> None:
        """Wait for the agent's reply until the job's time is up, and store what happened."""
        assert job.user_message_id is not None
        try:
            with watch:
                left_s = max(0.0, (job.expires_at - self._clock()) / 1000)
                outcome = await await_reply(
                    watch.steps, agents=[job.agent_id], timeout_s=left_s, message_id=job.user_message_id
                )
            if outcome.reply is None:
                await self._finish(job, FAILED, error="The agent chose not to answer this prompt.")
            else:
                await self._finish(job, COMPLETED, result=result_of(outcome.reply, job.created_at))
        except ReplyTimeout:
            await self._finish(job, TIMEOUT, error=TIMED_OUT + (RESTARTED if restarted else ""))
        except AgentUnavailable as exc:
            await self._finish(job, FAILED, error=exc.message)
        except asyncio.CancelledError:
            raise  # the server is stopping: the job stays as stored and is resumed on the next start
        except Exception:
            log.exception("a job failed", extra={"job": job.id})
            await self._finish(job, FAILED, error="The server failed while waiting for the agent; it has been logged.")

    async def _finish(
        self, job: Job, status: str, *, result: JsonObject | None = None, error: str | None = None
    ) -> Job:
        done = replace(job, status=status, result=result, error=error, finished_at=self._clock())
        try:
            await self._store.save_job(done)
        except Exception:
            log.exception("a job's outcome could not be stored", extra={"job": job.id})
        return done

    async def _resume(self, job: Job) -> None:
        if job.user_message_id is None:
            await self._finish(job, FAILED, error="The server stopped before the prompt was sent; send the job again.")
            return
        watch = self._service.replies.watch(job.user_message_id)  # before reading: a reply now is not missed
        try:
            stored = await self._store.list_messages(job.channel_id, limit=20)
            reply = next((m for m in reversed(stored) if same_id(m.author_id, job.agent_id)), None)
            if reply is not None:
                watch.close()
                await self._finish(job, COMPLETED, result=result_of(reply, job.created_at))
            elif job.expires_at <= self._clock():
                watch.close()
                await self._finish(job, TIMEOUT, error=TIMED_OUT + RESTARTED)
            else:
                self._spawn(job, watch, restarted=True)
        except BaseException:
            watch.close()
            raise
