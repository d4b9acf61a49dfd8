"""Gathered appends for PostgreSQL: the messages that arrive while a batch is written go together into the
next one, a single statement (arrays, ``unnest``), so a burst costs one round trip and one commit per
batch instead of one per message, and each caller still returns only once its message is committed.

Offsets stay per channel, without gaps: the statement bumps each channel's offset row once by the number
of its new messages, in channel order (so two batches on two nodes never deadlock), and numbers them in
arrival order. Should a batch fail as a whole (a retry racing its uncommitted original on another node),
each of its messages is stored again on its own, exactly as without gathering.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from ..records import Message, StoredMessage

MAX_BATCH = 500
# One batch at a time: on a node, offsets follow arrival order (a second writer measured no faster).
MAX_CONCURRENT_BATCHES = 1

# Writes one batch (no two messages in it share a client id); returns each message's outcome in order.
BatchRunner = Callable[[list[Message]], Awaitable[list[StoredMessage]]]
# Stores one message on its own (the path of a batch that failed as a whole).
SingleRunner = Callable[[Message], Awaitable[StoredMessage]]


class AppendBatcher:
    def __init__(self, run_batch: BatchRunner, run_single: SingleRunner) -> None:
        self._run_batch = run_batch
        self._run_single = run_single
        self._pending: list[tuple[Message, asyncio.Future[StoredMessage]]] = []
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_BATCHES)
        self._flushers: set[asyncio.Task[None]] = set()

    async def append(self, message: Message) -> StoredMessage:
        future: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        self._pending.append((message, future))
        if len(self._pending) % MAX_BATCH == 1:  # the first of a batch's worth: a flush must take it
            task = asyncio.create_task(self._flush())
            self._flushers.add(task)
            task.add_done_callback(self._flushers.discard)
        return await future

    async def _flush(self) -> None:
        async with self._slots:  # while the slots are busy, what arrives gathers into the next batch
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            if not batch:  # an earlier flush took them
                return
            first, repeats = _split_repeats(batch)
            try:
                outcomes: list[StoredMessage | BaseException] = list(
                    await self._run_batch([message for message, _ in first])
                )
            except Exception:
                outcomes = [await _outcome(self._run_single(message)) for message, _ in first]
            for (_, future), outcome in zip(first, outcomes, strict=True):
                _settle(future, outcome)
            for message, future in repeats:  # a repeat within the batch: its original is committed now
                _settle(future, await _outcome(self._run_single(message)))

    async def close(self) -> None:
        """Let the batches in flight finish: their callers wait for them."""
        while self._flushers:
            with contextlib.suppress(Exception):
                await asyncio.gather(*list(self._flushers))


Item = tuple[Message, "asyncio.Future[StoredMessage]"]


def _split_repeats(batch: list[Item]) -> tuple[list[Item], list[Item]]:
    """The first message of each client id, and the repeats of one already in this batch."""
    seen: set[tuple[str, str, str]] = set()
    first: list[Item] = []
    repeats: list[Item] = []
    for item in batch:
        message = item[0]
        if message.client_message_id is None:
            first.append(item)
            continue
        key = (message.channel_id, message.author_id, message.client_message_id)
        (repeats if key in seen else first).append(item)
        seen.add(key)
    return first, repeats


def _settle(future: asyncio.Future[StoredMessage], outcome: StoredMessage | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


async def _outcome(work: Awaitable[StoredMessage]) -> StoredMessage | BaseException:
    try:
        return await work
    except Exception as exc:
        return exc
