"""Retention (``ELIZA_RETENTION_DAYS``): messages older than that are removed by a background task.

Off by default. Each sweep deletes in bounded batches with a pause between them, so the store and
the send path never wait on one long delete, and stops at the first short batch; a message newer
than the cut-off is never touched. Each removal is told to its room as ``messageDeleted``, so a
client still showing it drops it. Several nodes may sweep at once: a row is deleted once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..tasks import stop
from .clock import now_ms
from .forgetting import tell_rooms

if TYPE_CHECKING:
    from .service import MessagingService

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
BATCH = 1000
PAUSE_S = 0.05  # between batches of one sweep


class Retention:
    def __init__(
        self,
        service: MessagingService,
        days: float,
        *,
        interval_s: float = 3600.0,
        batch: int = BATCH,
        pause_s: float = PAUSE_S,
    ) -> None:
        self._service = service
        self._keep_ms = int(days * DAY_MS)
        self._interval_s = interval_s
        self._batch = batch
        self._pause_s = pause_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sweep now, then every ``interval_s``."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="retention")

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop(task)

    async def sweep(self) -> int:
        """Remove every message older than the retention period; how many went."""
        cutoff = now_ms() - self._keep_ms
        removed = 0
        while True:
            batch = await self._service.store.delete_messages_before(cutoff, limit=self._batch)
            removed += len(batch)
            await tell_rooms(self._service, batch)
            if len(batch) < self._batch:
                break
            await asyncio.sleep(self._pause_s)
        if removed:
            log.info("retention removed old messages", extra={"removed": removed, "before": cutoff})
        return removed

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # the store may be away for a while: try again at the next sweep
                log.exception("retention sweep failed")
            await asyncio.sleep(self._interval_s)
