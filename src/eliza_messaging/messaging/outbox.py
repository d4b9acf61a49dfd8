"""The outbox: every stored message reaches its room and the agents, even when that step failed once.

A message is stored unpublished; publishing it (the room broadcast and the agents' queue) marks it
published. What stays unpublished, because the broadcast or the queue hand-off raised or because the
process died between store and publish, is published later: by a retry of the same ``messageId``,
and by the sweep this node runs on start and then every few seconds. Each of those first claims the
row in the store for a lease, so two nodes (or a retry and a sweep) never publish one row together,
and the live send holds its fresh row for the same lease, so a sweep never races it.

Cost on the hot path: one UPDATE per message, and not a round trip per message: the ids published
meanwhile are marked together in one statement (on SQLite it joins the group commit of the next
inserts). The mark is not awaited by the sender; if the process dies before it is written, the
message is published once more after the restart (at least once, never lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from ..records import Channel, Message
from ..store.base import Store
from ..tasks import stop
from .channel_cache import ChannelCache
from .clock import now_ms
from .errors import DeliveryFailed

log = logging.getLogger(__name__)

Publish = Callable[[Message, Channel, str | None], Awaitable[None]]

SWEEP_BATCH: Final = 200


class Outbox:
    def __init__(
        self,
        store: Store,
        channels: ChannelCache,
        publish: Publish,
        *,
        lease_s: float = 30.0,
        sweep_s: float = 5.0,
    ) -> None:
        """``lease_s``: how long a publisher holds a row (a live send, a retry, a sweep) before another
        may take it; ``sweep_s``: how often unpublished rows are looked for (0: only on start)."""
        self._store = store
        self._channels = channels
        self._publish = publish
        self._lease_ms = int(lease_s * 1000)
        self._sweep_s = sweep_s
        self._marks: list[str] = []
        self._marker: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def deliver(self, message: Message, channel: Channel, *, sender_sid: str | None = None) -> None:
        """Publish a stored message this caller holds; on failure leave it for a retry or the sweep."""
        try:
            await self._publish(message, channel, sender_sid)
        except Exception as exc:
            log.exception("stored message not delivered; left for a retry", extra={"message_id": message.id})
            with contextlib.suppress(Exception):
                await self._store.release_claim(message.id)
            raise DeliveryFailed(
                "The message was stored but could not be delivered to the room yet. Send it again with"
                " the same messageId to deliver it (it will not be stored twice).",
            ) from exc
        self._mark(message.id)

    async def redeliver(self, message: Message, channel: Channel, *, sender_sid: str | None = None) -> bool:
        """A retry of a stored, unpublished message: publish it unless someone else holds it right now."""
        claimed = await self._store.claim_unpublished(
            now=now_ms(), lease_ms=self._lease_ms, limit=1, message_id=message.id
        )
        if not claimed:
            return False
        await self.deliver(claimed[0], channel, sender_sid=sender_sid)
        return True

    async def start(self) -> None:
        """Publish what a previous run left unpublished, then keep sweeping. Call once the agents listen."""
        await self.sweep()
        if self._sweep_s > 0:
            self._sweeper = asyncio.create_task(self._sweep_forever(), name="outbox sweep")

    async def close(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        await stop(sweeper)
        await self.flush()

    async def flush(self) -> None:
        """Wait until every publish so far is marked in the store."""
        while self._marker is not None and not self._marker.done():
            await asyncio.shield(self._marker)

    async def sweep(self) -> int:
        """Publish every unpublished message this node can claim, oldest first; how many were published."""
        published = 0
        while True:
            batch = await self._store.claim_unpublished(now=now_ms(), lease_ms=self._lease_ms, limit=SWEEP_BATCH)
            for message in batch:
                channel = await self._channels.get(message.channel_id)
                if channel is None:  # deleted meanwhile, with its messages
                    continue
                try:
                    await self.deliver(message, channel)
                except DeliveryFailed:
                    return published  # the fanout or queue is down: the next sweep tries again
                published += 1
            if len(batch) < SWEEP_BATCH:
                if published:
                    log.info("outbox published stranded messages", extra={"count": published})
                return published

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_s)
            try:
                await self.sweep()
            except Exception:
                log.warning("outbox sweep failed; trying again later", exc_info=True)

    def _mark(self, message_id: str) -> None:
        self._marks.append(message_id)
        if self._marker is None or self._marker.done():
            self._marker = asyncio.create_task(self._write_marks(), name="outbox marks")

    async def _write_marks(self) -> None:
        while self._marks:
            ids, self._marks = self._marks, []
            try:
                await self._store.mark_published(ids, now_ms())
            except Exception:  # they will be published again when their lease ends: at least once
                log.warning("could not mark messages published", extra={"count": len(ids)}, exc_info=True)
