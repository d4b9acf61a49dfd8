"""Keeping each stored message's embedding, off the send path: a worker, a bounded queue, a backfill.

A send only puts the message's id on a bounded queue (``notify``: no await, no I/O), so indexing
never delays an ack. The worker takes ids in batches, reads their text, embeds it and stores the
vectors unless the message was deleted or edited meanwhile (the store checks the text). When the
queue is full the id is dropped and the next backfill finds the message: the backfill walks the
store for messages without a vector of this embedder (on start: rows stored before, or under
another model; after a drop; after the embedder failed). An edit removes the old vector (a
trigger) and notifies again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Sequence
from typing import Final, Protocol

from ..store.base import Store
from ..store.search import VectorsUnavailable
from ..tasks import stop

log = logging.getLogger(__name__)

QUEUE_MAX: Final = 4096
BATCH: Final = 32
RETRY_S: Final = 5.0
#: The largest magnitude a float4 (pgvector, real[]) holds; beyond it a store refuses the whole batch.
FLOAT4_MAX: Final = 3.4028234e38


def usable(vectors: Sequence[Sequence[float]], length: int | None) -> tuple[list[bool], int | None]:
    """Which vectors a store can keep (finite numbers within float4's range, all of one length: ``length``,
    or the batch's usual one when no vector was kept yet), and the length from now on.

    One bad vector from an endpoint (NaN, infinity, 1e39, another length) would otherwise make the store
    refuse the whole batch, and the retry refuse it again: indexing would stall for good.
    """
    if length is None:
        lengths = Counter(len(v) for v in vectors if v)
        length = lengths.most_common(1)[0][0] if lengths else None
    keep = [
        length is not None and len(v) == length and all(math.isfinite(x) and abs(x) <= FLOAT4_MAX for x in v)
        for v in vectors
    ]
    return keep, length


class Embeds(Protocol):
    """What the indexer and search need of ``models.embedder.Embedder`` (structurally the same)."""

    @property
    def name(self) -> str: ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class Indexer:
    def __init__(
        self,
        store: Store,
        embedder: Embeds,
        *,
        queue_max: int = QUEUE_MAX,
        batch: int = BATCH,
        retry_s: float = RETRY_S,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.unavailable: str | None = None  # why vectors cannot be kept here (set by start)
        self.dropped = 0  # ids the full queue refused (the backfill takes their messages)
        self._length: int | None = None  # of the vectors kept so far (one model, one length)
        self.refused = 0  # vectors the endpoint gave that no store can keep (left out, found again by a backfill)
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_max)
        self._batch = batch
        self._retry_s = retry_s
        self._behind = True  # messages may lack a vector: backfill before the next batch
        self._busy = False
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self._task is not None and self.unavailable is None

    async def start(self) -> None:
        try:
            await self.store.enable_vectors()
        except VectorsUnavailable as exc:
            self.unavailable = str(exc)
            log.warning("semantic search off", extra={"reason": self.unavailable})
            return
        self._task = asyncio.create_task(self._run(), name="indexer")

    def notify(self, message_id: str) -> None:
        """A message was stored or its text changed: embed it soon (never waits)."""
        if self._task is None:
            return
        try:
            self._queue.put_nowait(message_id)
        except asyncio.QueueFull:
            self.dropped += 1
            self._behind = True

    async def idle(self, timeout_s: float = 30.0) -> None:
        """Wait until every notified and stored message has its vector (tests and the benchmark)."""
        async with asyncio.timeout(timeout_s):
            while self._busy or self._behind or not self._queue.empty():  # noqa: ASYNC110 (three conditions)
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        task, self._task = self._task, None
        await stop(task)

    async def _run(self) -> None:
        while True:
            if self._behind:
                self._busy = True
                self._behind = False
                await self._backfill()
                self._busy = False
                continue
            first = await self._queue.get()
            self._busy = True
            ids = [first]
            while len(ids) < self._batch and not self._queue.empty():
                ids.append(self._queue.get_nowait())
            try:
                await self._index(await self.store.message_texts(list(dict.fromkeys(ids))))
            except Exception:
                self._behind = True  # the backfill retries these
                log.warning("embedding failed; retrying later", exc_info=True)
                await asyncio.sleep(self._retry_s)
            finally:
                self._busy = False

    async def _backfill(self) -> None:
        after = 0
        while True:
            try:
                pending = await self.store.pending_embeddings(self.embedder.name, after=after, limit=self._batch)
                if not pending:
                    return
                await self._index([(message_id, text) for _, message_id, text in pending])
                after = pending[-1][0]
            except Exception:
                log.warning("embedding backfill failed; retrying later", exc_info=True)
                self._behind = True
                await asyncio.sleep(self._retry_s)
                return

    async def _index(self, items: list[tuple[str, str]]) -> None:
        items = [(message_id, text) for message_id, text in items if text.strip()]
        if not items:
            return
        vectors = await self.embedder.embed([text for _, text in items])
        keep, self._length = usable(vectors, self._length)
        if not all(keep):
            self.refused += keep.count(False)
            log.warning(
                "embeddings left out: not finite, out of range, or not of the length of the others (a new"
                " model or dimension wants a new ELIZA_EMBEDDINGS_MODEL name, so every vector is made again)",
                extra={"embedder": self.embedder.name, "left_out": keep.count(False), "batch": len(keep)},
            )
        await self.store.save_vectors(
            self.embedder.name,
            [
                (message_id, text, vector)
                for ((message_id, text), vector), ok in zip(zip(items, vectors, strict=True), keep, strict=True)
                if ok
            ],
        )
