"""What the agents did with each message: runs and their model calls, for ElizaOS's timeline and model-call views.

A run is one agent's processing of one message, from taking it into its lane to its outcome. The
agent runtime opens one (``AgentRuns.start``), tells it of each model call (sizes, timing and outcome,
never the text: these records are shown to anyone who may list agents), and ends it; only ended runs
are written, in one statement each, so recording costs a reply one store write. Runs in progress are
held here, on the node doing them, and listed with the stored ones. The store keeps the newest
``keep`` runs of each agent; a run keeps its first ``MAX_CALLS_DETAILED`` calls in detail and counts the rest.

With data isolation on, a caller sees only the runs of channels it may read (``access.py``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from ..records import AgentRun, Channel, Message, ModelCall
from ..store.base import Store
from .access import Access
from .clock import new_id, now_ms
from .identity import Caller

log = logging.getLogger(__name__)

DEFAULT_KEEP = 1000  # runs kept per agent (ELIZA_AGENT_RUNS_KEEP)
MAX_CALLS_DETAILED = 16  # model calls kept in detail per run; more are only counted
MAX_IN_PROGRESS = 10_000  # runs held open on this node; beyond it a run is recorded only when it ends
STATUSES = ("started", "completed", "timeout", "error")
# How each ending maps onto ElizaOS's run status.
OUTCOME_STATUS = {
    "replied": "completed",
    "ignored": "completed",
    "answered before": "completed",
    "timeout": "timeout",
    "failed": "error",
    "superseded": "error",
    "dropped": "error",
}


class RunRecorder:
    """One run in progress: the runtime reports model calls and the outcome through it."""

    def __init__(self, runs: AgentRuns, run: AgentRun) -> None:
        self._runs = runs
        self.run = run
        self._calls: list[ModelCall] = []
        self._ended = False

    @property
    def id(self) -> str:
        return self.run.id

    def model_call(
        self, kind: str, model: str, *, started: float, prompt_chars: int, response_chars: int, outcome: str
    ) -> None:
        """A finished model call; ``started`` is ``time.monotonic()`` when it began."""
        duration_ms = max(0, int((time.monotonic() - started) * 1000))
        call = ModelCall(
            id=new_id(),
            kind=kind,
            model=model,
            started_at=now_ms() - duration_ms,
            duration_ms=duration_ms,
            prompt_chars=prompt_chars,
            response_chars=response_chars,
            outcome=outcome,
        )
        if len(self._calls) < MAX_CALLS_DETAILED:
            self._calls.append(call)
        self.run = replace(
            self.run,
            model_calls=self.run.model_calls + 1,
            errors=self.run.errors + (outcome != "ok"),
            calls=tuple(self._calls),
        )

    async def end(self, outcome: str, error: str | None = None) -> None:
        """Record how the run ended (once; later calls are ignored). A store failure is logged, never
        raised: the reply it describes has already reached the room."""
        if self._ended:
            return
        self._ended = True
        status = OUTCOME_STATUS.get(outcome, "error")
        self.run = replace(self.run, status=status, ended_at=now_ms(), outcome=outcome, error=error)
        await self._runs.finish(self)


@dataclass(frozen=True, slots=True)
class RunPage:
    runs: list[AgentRun]
    total: int
    has_more: bool


class AgentRuns:
    def __init__(self, store: Store, access: Access, *, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError("ELIZA_AGENT_RUNS_KEEP must be at least 1.")
        self._store = store
        self._access = access
        self.keep = keep
        self._open: dict[str, RunRecorder] = {}

    def start(self, agent_id: str, message: Message, channel: Channel) -> RunRecorder:
        run = AgentRun(
            id=new_id(),
            agent_id=agent_id,
            message_id=message.id,
            channel_id=channel.id,
            entity_id=message.author_id,
            started_at=now_ms(),
        )
        recorder = RunRecorder(self, run)
        if len(self._open) < MAX_IN_PROGRESS:
            self._open[run.id] = recorder
        return recorder

    async def finish(self, recorder: RunRecorder) -> None:
        """Store the ended run; it stays listed from here until the write is done, so it never vanishes."""
        try:
            await self._store.save_agent_run(recorder.run, keep=self.keep)
        except Exception:
            log.warning("could not record an agent run", extra={"agent_id": recorder.run.agent_id}, exc_info=True)
        finally:
            self._open.pop(recorder.id, None)

    async def page(
        self,
        caller: Caller,
        agent_id: str,
        *,
        limit: int,
        channel_id: str | None = None,
        status: str | None = None,
    ) -> RunPage:
        """The agent's newest runs, newest first: those held here (in progress, or ended and being written)
        and those stored, each once."""
        held = [
            r.run
            for r in self._open.values()
            if r.run.agent_id == agent_id
            and (channel_id is None or r.run.channel_id == channel_id)
            and (status is None or r.run.status == status)
        ]
        stored: list[AgentRun] = []
        count = 0
        if status != "started":  # only ended runs are stored
            stored, count = await self._store.list_agent_runs(
                agent_id, limit=limit, channel_id=channel_id, status=status
            )
        stored_ids = {r.id for r in stored}
        held = [r for r in held if r.id not in stored_ids]  # written meanwhile: the stored copy counts
        found = sorted([*held, *stored], key=lambda run: (run.started_at, run.id), reverse=True)
        # While a run is written the store may still hold the one it will push out: keep the bound here too.
        found = found[: self.keep]
        total = min(count + len(held), self.keep)
        runs = await self._visible(caller, found)
        if len(runs) < len(found):
            total = len(runs)  # isolation hid some: count only what this caller may see
        return RunPage(runs=runs[:limit], total=total, has_more=total > limit)

    async def get(self, caller: Caller, agent_id: str, run_id: str) -> AgentRun | None:
        recorder = self._open.get(run_id)
        run = recorder.run if recorder is not None and recorder.run.agent_id == agent_id else None
        if run is None:
            run = await self._store.get_agent_run(agent_id, run_id)
        if run is None or not await self._visible(caller, [run]):
            return None
        return run

    async def _visible(self, caller: Caller, runs: list[AgentRun]) -> list[AgentRun]:
        if not self._access.restricted(caller):
            return runs
        allowed = await self._access.visible(caller, sorted({r.channel_id for r in runs}))
        return [r for r in runs if r.channel_id in allowed]
