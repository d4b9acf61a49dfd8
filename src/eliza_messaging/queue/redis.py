"""The queue across nodes: one Redis stream, one consumer group per agent, one consumer per node.

``publish`` appends the stored message to the stream ``<prefix>:messages`` (trimmed to about
``maxlen`` entries). Every subscribed group (``agent:<id>``) gets every entry once, handed to
one of its consumers; each node runs one consumer per group, so whichever node reads an entry
first answers it and the others never see it.

An entry carries the whole ``Message`` and ``Channel`` records rather than their ids: an agent
then decides on exactly what was published, as with the in-process queue (an edit a moment
later does not change what it answers), and no node reads the store once per agent per message
just to learn what the publisher already knew. The price is stream memory: about ``maxlen``
times the average message size.

An entry is acknowledged (XACK) once its handler is done with it: when the handler returns, or,
when it returns a future (an agent's lane finishing the reply), when that resolves. Until then
it stays pending on this node's consumer, which keeps touching it (XCLAIM to itself) so nobody
takes it while the work goes on. A node that dies stops touching its entries; after
``claim_idle_s`` another node's consumer claims them (XAUTOCLAIM) and hands them to its own
handler, so each agent handles each message once even across a node's death (or twice, if the
node died between finishing a reply and acknowledging it). A handler that raises is logged and
the entry acknowledged, as in-process: a message that breaks an agent must not come back forever.

Within a group and a node, handler calls come one at a time in stream order, as in-process. Across
nodes there is no order: two messages of one channel may go to two nodes' copies of the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Final, TypeVar

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from redis.typing import StreamIdT

from ..records import Channel, Message
from .base import Handler

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R", Message, Channel)

FORMAT: Final = b"1"  # the entry layout; a node that does not know an entry's layout logs and skips it
CONNECT_TIMEOUT_S: Final = 5.0
PUBLISH_TIMEOUT_S: Final = 5.0
RETRY_MAX_S: Final = 10.0
CLAIM_PAGES: Final = 10  # XAUTOCLAIM pages per maintenance round, so one round stays short


@dataclass(eq=False)
class _Group:
    name: str
    handler: Handler
    created: asyncio.Event = field(default_factory=asyncio.Event)
    # one handler call at a time (the reader and the claimer both hand entries over), as in-process
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    received: set[bytes] = field(default_factory=set)  # read, handler not yet called
    inflight: dict[bytes, asyncio.Future[None]] = field(default_factory=dict)  # handed over, not yet acked
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # some in-flight future resolved
    acked: asyncio.Event = field(default_factory=asyncio.Event)  # some in-flight entry was let go
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class RedisStreamQueue:
    """``MessageQueue`` on Redis Streams consumer groups (``REDIS_URL``)."""

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        maxlen: int = 10_000,
        claim_idle_s: float = 30.0,
        block_s: float = 5.0,
        batch: int = 32,
        drain_s: float = 5.0,
        consumer: str | None = None,
    ) -> None:
        self.stream = stream
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._redis = Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        self._maxlen = maxlen
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._touch_s = claim_idle_s / 3  # touch own entries well inside the idle time others wait for
        self._dead_consumer_ms = max(10 * self._claim_idle_ms, 300_000)
        self._block_ms = int(block_s * 1000)
        self._batch = batch
        self._drain_s = drain_s
        self._groups: dict[str, _Group] = {}
        self._closing = asyncio.Event()
        self._closed = False

    # MessageQueue -----------------------------------------------------------------------

    def subscribe(self, group: str, handler: Handler) -> None:
        if group in self._groups:
            raise ValueError(f"queue group {group!r} is already subscribed")
        g = self._groups[group] = _Group(group, handler)
        g.tasks.append(asyncio.create_task(self._run(g), name=f"redis queue {group}"))

    async def publish(self, message: Message, channel: Channel) -> None:
        """XADD the records; waits for groups subscribed just before, so they get this message.

        A Redis that does not answer costs the agents this message, not the sender its send: the
        message is stored and broadcast already, and a retry with the same client id would not be
        published again anyway. So the failure is logged, not raised.
        """
        if self._closed:  # an agent's last words while the node shuts down: nobody reads here any more
            log.warning("queue closed; message not handed to the agents", extra={"message_id": message.id})
            return
        body = orjson.dumps({"message": asdict(message), "channel": asdict(channel)})
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                for g in self._groups.values():
                    await g.created.wait()
                await self._redis.xadd(self.stream, {"v": FORMAT, "d": body}, maxlen=self._maxlen)
        except (RedisError, OSError, TimeoutError):
            log.exception(
                "message not handed to the agents: Redis did not take it",
                extra={"message_id": message.id, "stream": self.stream},
            )

    async def ping(self) -> bool | None:
        """Redis answers a PING within the connect timeout."""
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                return bool(await self._redis.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        """Stop reading, let what is in flight finish (up to ``drain_s``), then let go of the rest.

        What is still unfinished stays pending on this consumer and another node claims it after
        ``claim_idle_s``; a consumer left with nothing pending is removed from its group.
        """
        self._closing.set()
        groups = list(self._groups.values())
        for g in groups:
            with contextlib.suppress(asyncio.CancelledError):
                await g.tasks[0]  # the reader: it stops between batches, not inside a handler call
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._drain_s):
                for g in groups:
                    while g.inflight:
                        g.acked.clear()
                        await g.acked.wait()
        for g in groups:
            for task in g.tasks:
                task.cancel()
            for task in g.tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._leave(g)
        self._groups.clear()
        self._closed = True
        await self._redis.aclose()

    # one group --------------------------------------------------------------------------

    async def _run(self, g: _Group) -> None:
        """Create the group, then read; the acker and the claimer run beside until ``close`` ends them."""
        await self._create(g)
        if self._closing.is_set():
            return
        g.tasks.append(asyncio.create_task(self._acker(g), name=f"redis queue {g.name} ack"))
        g.tasks.append(asyncio.create_task(self._claimer(g), name=f"redis queue {g.name} claim"))
        await self._reader(g)

    async def _create(self, g: _Group) -> None:
        """The group starts at the stream's end (``$``): it gets what is published after it subscribed.
        Another node (or an earlier run) may have created it: then it goes on where it was."""
        retry_s = 0.5
        while not self._closing.is_set():
            try:
                await self._redis.xgroup_create(self.stream, g.name, id="$", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    log.warning("cannot create queue group", extra={"group": g.name, "error": str(exc)})
                    retry_s = await self._pause(retry_s)
                    continue
            except (RedisError, OSError) as exc:
                log.warning("cannot create queue group", extra={"group": g.name, "error": str(exc)})
                retry_s = await self._pause(retry_s)
                continue
            g.created.set()
            return

    async def _reader(self, g: _Group) -> None:
        retry_s = 0.5
        while not self._closing.is_set():
            try:
                reply = await self._unless_closing(
                    self._redis.xreadgroup(
                        g.name, self.consumer, {self.stream: ">"}, count=self._batch, block=self._block_ms
                    )
                )
            except (RedisError, OSError) as exc:
                if "NOGROUP" in str(exc):
                    log.warning("queue group vanished (stream deleted?); creating it again", extra={"group": g.name})
                    await self._create(g)
                    continue
                log.warning("cannot read the queue", extra={"group": g.name, "error": str(exc)})
                retry_s = await self._pause(retry_s)
                continue
            retry_s = 0.5
            entries = _entries(reply)
            g.received.update(entry_id for entry_id, _ in entries)
            for entry_id, data in entries:
                await self._handle(g, entry_id, data)

    async def _handle(
        self, g: _Group, entry_id: bytes, data: dict[bytes, bytes] | None, *, redelivered: bool = False
    ) -> None:
        async with g.lock:
            g.received.discard(entry_id)
            if entry_id in g.inflight:  # ours already (claimed back after a slow touch)
                return
            settled: asyncio.Future[None] | None = None
            try:
                message, channel = _decode(data)
            except Exception:
                log.exception("unreadable queue entry skipped", extra={"group": g.name, "entry": entry_id})
            else:
                try:
                    settled = await g.handler(message, channel, redelivered=redelivered)
                except Exception:
                    log.exception("agent queue handler failed", extra={"group": g.name, "message_id": message.id})
            if settled is None:
                settled = asyncio.get_running_loop().create_future()
                settled.set_result(None)
            g.inflight[entry_id] = settled
            settled.add_done_callback(lambda _: g.settled.set())

    async def _acker(self, g: _Group) -> None:
        """XACK what its handler finished, a batch at a time; a cancelled future (the agent closing)
        is let go unacknowledged, for another node to claim."""
        retry_s = 0.5
        while True:
            await g.settled.wait()
            g.settled.clear()
            finished = [i for i, f in g.inflight.items() if f.done()]
            for entry_id in finished:
                future = g.inflight[entry_id]
                if future.cancelled():
                    del g.inflight[entry_id]
                    g.acked.set()
                elif future.exception() is not None:
                    log.error("agent failed a queued message", exc_info=future.exception(), extra={"group": g.name})
            done = [i for i in finished if i in g.inflight]
            if not done:
                continue
            try:
                await self._redis.xack(self.stream, g.name, *done)
            except (RedisError, OSError) as exc:  # keep them (and keep touching them); try again
                log.warning("cannot acknowledge queue entries", extra={"group": g.name, "error": str(exc)})
                g.settled.set()
                await asyncio.sleep(retry_s)  # not _pause: while closing, acks still matter most
                retry_s = min(retry_s * 2, RETRY_MAX_S)
                continue
            retry_s = 0.5
            for entry_id in done:
                g.inflight.pop(entry_id, None)
            g.acked.set()

    async def _claimer(self, g: _Group) -> None:
        """Every ``claim_idle_s / 3``: touch our own pending entries, claim dead consumers' ones,
        and remove consumers long dead with nothing pending (each node start adds a consumer).
        While closing it only touches, so the entries being drained stay ours."""
        while True:
            await asyncio.sleep(self._touch_s)
            try:
                await self._touch(g)
                if not self._closing.is_set():
                    await self._claim(g)
                    await self._sweep(g)
            except (RedisError, OSError) as exc:
                log.warning("queue maintenance failed", extra={"group": g.name, "error": str(exc)})

    async def _touch(self, g: _Group) -> None:
        """Reset the idle time of entries this node still works on, so no other node claims them."""
        mine: list[StreamIdT] = [*g.received, *g.inflight]
        for start in range(0, len(mine), 500):
            await self._redis.xclaim(self.stream, g.name, self.consumer, 0, mine[start : start + 500], justid=True)

    async def _claim(self, g: _Group) -> None:
        start: bytes | str = "0-0"
        for _ in range(CLAIM_PAGES):
            if self._closing.is_set():
                return
            reply = await self._redis.xautoclaim(
                self.stream, g.name, self.consumer, self._claim_idle_ms, start, count=self._batch
            )
            start, claimed = reply[0], [(i, d) for i, d in reply[1] if i is not None]
            if claimed:
                log.info("claimed queue entries of a stalled consumer", extra={"group": g.name, "n": len(claimed)})
            g.received.update(entry_id for entry_id, _ in claimed)
            for entry_id, data in claimed:  # another consumer had it: it may have been handled
                await self._handle(g, entry_id, data, redelivered=True)
            if start in (b"0-0", "0-0"):
                return

    async def _sweep(self, g: _Group) -> None:
        for consumer in await self._redis.xinfo_consumers(self.stream, g.name):
            name = consumer["name"]
            name = name.decode() if isinstance(name, bytes) else str(name)
            if name != self.consumer and consumer["pending"] == 0 and consumer["idle"] > self._dead_consumer_ms:
                await self._redis.xgroup_delconsumer(self.stream, g.name, name)

    async def _leave(self, g: _Group) -> None:
        """Remove this node's consumer when nothing is pending on it (deleting it would drop pending)."""
        try:
            for consumer in await self._redis.xinfo_consumers(self.stream, g.name):
                name = consumer["name"]
                if (name.decode() if isinstance(name, bytes) else name) == self.consumer and consumer["pending"] == 0:
                    await self._redis.xgroup_delconsumer(self.stream, g.name, self.consumer)
        except (RedisError, OSError) as exc:
            log.warning("cannot remove the queue consumer", extra={"group": g.name, "error": str(exc)})

    # helpers ----------------------------------------------------------------------------

    async def _unless_closing(self, command: Awaitable[T]) -> T | None:
        """The command's result, or None when ``close`` began first (the command is cancelled)."""
        task: asyncio.Future[T] = asyncio.ensure_future(command)
        closing = asyncio.ensure_future(self._closing.wait())
        waiting: set[asyncio.Future[Any]] = {task, closing}
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
            if not task.done():  # closing, or this reader itself was cancelled
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                    await task
        return None if task.cancelled() else task.result()

    async def _pause(self, retry_s: float) -> float:
        """Sleep ``retry_s`` (or until close) and return the next, longer, pause."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(retry_s):
                await self._closing.wait()
        return min(retry_s * 2, RETRY_MAX_S)


def _entries(reply: Any) -> list[tuple[bytes, dict[bytes, bytes] | None]]:
    """XREADGROUP's entries for our one stream, in either reply shape (RESP2 list, RESP3 dict)."""
    if not reply:
        return []
    streams: Iterable[Any] = reply.values() if isinstance(reply, dict) else (r[1] for r in reply)
    entries: list[tuple[bytes, dict[bytes, bytes] | None]] = []
    for stream_entries in streams:
        if stream_entries and isinstance(stream_entries[0], list):  # RESP3 wraps them once more
            stream_entries = stream_entries[0]
        entries.extend((entry_id, data) for entry_id, data in stream_entries if entry_id is not None)
    return entries


def _decode(data: dict[bytes, bytes] | None) -> tuple[Message, Channel]:
    if not data:
        raise ValueError("the entry was trimmed from the stream before it was handled")
    if data.get(b"v") != FORMAT:
        raise ValueError(f"unknown entry format {data.get(b'v')!r}")
    body = orjson.loads(data[b"d"])
    return _record(Message, body["message"]), _record(Channel, body["channel"])


def _record(cls: type[R], data: dict[str, Any]) -> R:
    """Rebuild a record, ignoring fields this version does not know (a newer node wrote it)."""
    known = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in known})
