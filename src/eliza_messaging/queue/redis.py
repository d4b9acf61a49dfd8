"""The queue across nodes: Redis streams, one consumer group per agent, one consumer per node.

``publish`` appends the stored message to the stream of its channel's partition,
``<prefix>:messages:<n>`` (``queue/partitions.py``: a fixed number of partitions, each trimmed to
about its share of ``maxlen`` entries). Every subscribed group (``agent:<id>``) gets every entry
once. For each group, each partition is read by the one node holding its lease, so all messages of a
channel reach one node's copy of the agent, in stream order: its lane for that channel answers them
one after another, and a person's newer message supersedes the reply in progress there, whichever
node it was sent to. Partitions are spread over the live nodes of the group and move when nodes come
and go; a holder hands one over only when nothing of it is in hand, so a channel never has two lanes.

An entry carries the whole ``Message`` and ``Channel`` records rather than their ids: an agent
then decides on exactly what was published, as with the in-process queue (an edit a moment
later does not change what it answers), and no node reads the store once per agent per message
just to learn what the publisher already knew. The price is stream memory: about ``maxlen``
times the average message size.

An entry is acknowledged (XACK) once its handler is done with it: when the handler returns, or,
when it returns a future (an agent's lane finishing the reply), when that resolves. Until then
it stays pending on this node's consumer, which keeps touching it (XCLAIM to itself). A node that
dies stops renewing its leases; once they expire (``lease_s``) another node takes each partition
over: first it claims every entry left pending there (XAUTOCLAIM) and hands them to its handler as
``redelivered``, in stream order, then it reads what is new. So each agent handles each message once
even across a node's death (or twice, if the node died between finishing a reply and acknowledging
it: the handler is told, and the agent looks for its stored reply). Entries of a partition this node
holds that stay idle for ``claim_idle_s`` (a read whose answer was lost) are claimed too. A handler
that raises is logged and the entry acknowledged, as in-process: a message that breaks an agent must
not come back forever.

Within a group and a node, handler calls come one at a time, each partition's in stream order, as
in-process.
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
from redis.exceptions import RedisError
from redis.typing import StreamIdT

from ..records import Channel, Message
from ..tasks import stop
from .base import Handler
from .partitions import PARTITIONS, Leases, partition_of, preferred

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R", Message, Channel)

FORMAT: Final = b"1"  # the entry layout; a node that does not know an entry's layout logs and skips it
CONNECT_TIMEOUT_S: Final = 5.0
PUBLISH_TIMEOUT_S: Final = 5.0
RETRY_MAX_S: Final = 10.0
CLAIM_PAGES: Final = 10  # XAUTOCLAIM pages per partition per maintenance round, so one round stays short

_Key = tuple[int, bytes]  # (partition, entry id): ids are per stream, so two partitions may share one


@dataclass(eq=False)
class _Group:
    name: str
    handler: Handler
    leases: Leases
    created: asyncio.Event = field(default_factory=asyncio.Event)
    # one handler call at a time (the reader, the keeper and the claimer all hand entries over), as in-process
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    received: set[_Key] = field(default_factory=set)  # read, handler not yet called
    inflight: dict[_Key, asyncio.Future[None]] = field(default_factory=dict)  # handed over, not yet acked
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # some in-flight future resolved
    acked: asyncio.Event = field(default_factory=asyncio.Event)  # some in-flight entry was let go
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    held: set[int] = field(default_factory=set)  # partitions whose lease this node holds
    reading: set[int] = field(default_factory=set)  # held and read (not being handed over)
    in_read: frozenset[int] = frozenset()  # the partitions of the read under way
    handing_over: set[int] = field(default_factory=set)  # held, no longer read, let go once nothing is in hand
    free_before: set[int] = field(default_factory=set)  # free at the keeper's last beat
    used: set[int] = field(default_factory=set)  # partitions where this node's consumer exists
    more: asyncio.Event = field(default_factory=asyncio.Event)  # a partition was added to ``reading``

    def holds_entries_of(self, partition: int) -> bool:
        return any(p == partition for p, _ in self.received) or any(p == partition for p, _ in self.inflight)


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
        partitions: int = PARTITIONS,
        lease_s: float = 12.0,  # a dead node's channels move after this: after its replies are withdrawn (~10 s)
        beat_s: float = 2.0,
    ) -> None:
        if not 0 < beat_s < lease_s / 2:
            raise ValueError(f"beat_s ({beat_s}) must be above 0 and below half of lease_s ({lease_s}).")
        if partitions < 1:
            raise ValueError(f"partitions ({partitions}) must be at least 1.")
        self.stream = stream
        self.consumer = consumer or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._redis = Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S)
        self._partitions = partitions
        self._streams = [f"{stream}:{p}" for p in range(partitions)]
        self._partition_by_stream = {name.encode(): p for p, name in enumerate(self._streams)}
        self._maxlen = max(1, -(-maxlen // partitions))
        self._claim_idle_ms = int(claim_idle_s * 1000)
        self._touch_s = claim_idle_s / 3  # touch own entries well inside the idle time others wait for
        self._dead_consumer_ms = max(10 * self._claim_idle_ms, 300_000)
        self._lease_ms = int(lease_s * 1000)
        self._beat_s = beat_s
        # a read returns at least once a beat, so a partition handed over is not waited on for long
        self._block_ms = max(1, int(min(block_s, beat_s) * 1000))
        self._batch = batch
        self._drain_s = drain_s
        self._groups: dict[str, _Group] = {}
        self._closing = asyncio.Event()
        self._stopped = asyncio.Event()  # the background loops end (cancelling alone may be swallowed by redis-py)
        self._closed = False

    def stream_of(self, channel_id: str) -> str:
        """The stream a channel's messages go to."""
        return self._streams[partition_of(channel_id, self._partitions)]

    def held(self, group: str) -> frozenset[int]:
        """The partitions of ``group`` this node reads now."""
        g = self._groups.get(group)
        return frozenset(g.reading) if g else frozenset()

    # MessageQueue -----------------------------------------------------------------------

    def subscribe(self, group: str, handler: Handler) -> None:
        if group in self._groups:
            raise ValueError(f"queue group {group!r} is already subscribed")
        leases = Leases(
            self._redis,
            self.stream,
            group,
            self.consumer,
            partitions=self._partitions,
            lease_ms=self._lease_ms,
            beat_ms=int(self._beat_s * 1000),
        )
        g = self._groups[group] = _Group(group, handler, leases)
        g.tasks.append(asyncio.create_task(self._run(g), name=f"redis queue {group}"))

    async def publish(self, message: Message, channel: Channel) -> None:
        """XADD the records to the channel's partition; waits for groups subscribed just before, so they
        get this message.

        A Redis that does not answer costs the agents this message, not the sender its send: the
        message is stored and broadcast already, and a retry with the same client id would not be
        published again anyway. So the failure is logged, not raised.
        """
        if self._closed:  # an agent's last words while the node shuts down: nobody reads here any more
            log.warning("queue closed; message not handed to the agents", extra={"message_id": message.id})
            return
        body = orjson.dumps({"message": asdict(message), "channel": asdict(channel)})
        stream = self.stream_of(channel.id)
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                for g in self._groups.values():
                    await g.created.wait()
                await self._redis.xadd(stream, {"v": FORMAT, "d": body}, maxlen=self._maxlen)
        except (RedisError, OSError, TimeoutError):
            log.exception(
                "message not handed to the agents: Redis did not take it",
                extra={"message_id": message.id, "stream": stream},
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

        The partitions with nothing left in hand are released at once, so another node takes them
        over without waiting; the others keep their lease until it expires (``lease_s``), so no node
        answers a channel while this one may still be answering it. What is still unfinished stays
        pending on this consumer for the next holder; a consumer left with nothing pending is removed.
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
        self._stopped.set()
        for g in groups:
            await stop(*g.tasks)
            await self._leave(g)
        self._groups.clear()
        self._closed = True
        await self._redis.aclose()

    # one group --------------------------------------------------------------------------

    async def _run(self, g: _Group) -> None:
        """Create the group, then read; the keeper, the acker and the claimer run beside until ``close``."""
        await self._create(g)
        if self._closing.is_set():
            return
        g.tasks.append(asyncio.create_task(self._keeper(g), name=f"redis queue {g.name} keep"))
        g.tasks.append(asyncio.create_task(self._acker(g), name=f"redis queue {g.name} ack"))
        g.tasks.append(asyncio.create_task(self._claimer(g), name=f"redis queue {g.name} claim"))
        await self._reader(g)

    async def _create(self, g: _Group) -> None:
        """The group starts at each stream's end (``$``): it gets what is published after it subscribed.
        Another node (or an earlier run) may have created it: then it goes on where it was."""
        retry_s = 0.5
        while not self._closing.is_set():
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for name in self._streams:
                        pipe.xgroup_create(name, g.name, id="$", mkstream=True)
                    results = await pipe.execute(raise_on_error=False)
            except (RedisError, OSError) as exc:
                log.warning("cannot create queue group", extra={"group": g.name, "error": str(exc)})
                retry_s = await self._pause(retry_s)
                continue
            errors = [r for r in results if isinstance(r, Exception) and "BUSYGROUP" not in str(r)]
            if errors:
                log.warning("cannot create queue group", extra={"group": g.name, "error": str(errors[0])})
                retry_s = await self._pause(retry_s)
                continue
            g.created.set()
            return

    async def _reader(self, g: _Group) -> None:
        retry_s = 0.5
        while not self._closing.is_set():
            if not g.reading:  # no partition of this group is ours (yet): wait for the keeper
                g.more.clear()
                await self._unless_closing(g.more.wait())
                continue
            g.in_read = frozenset(g.reading)
            streams: dict[Any, StreamIdT] = {self._streams[p]: ">" for p in sorted(g.in_read)}
            try:
                reply = await self._unless_closing(
                    self._redis.xreadgroup(g.name, self.consumer, streams, count=self._batch, block=self._block_ms)
                )
            except (RedisError, OSError) as exc:
                g.in_read = frozenset()
                if "NOGROUP" in str(exc):
                    log.warning("queue group vanished (stream deleted?); creating it again", extra={"group": g.name})
                    await self._create(g)
                    continue
                log.warning("cannot read the queue", extra={"group": g.name, "error": str(exc)})
                retry_s = await self._pause(retry_s)
                continue
            retry_s = 0.5
            entries = self._entries(reply)
            g.received.update((p, entry_id) for p, entry_id, _ in entries)
            g.in_read = frozenset()
            for p, entry_id, data in entries:
                await self._handle(g, p, entry_id, data)

    async def _handle(
        self, g: _Group, partition: int, entry_id: bytes, data: dict[bytes, bytes] | None, *, redelivered: bool = False
    ) -> None:
        key = (partition, entry_id)
        async with g.lock:
            g.received.discard(key)
            if key in g.inflight:  # ours already (claimed back after a slow touch)
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
            g.inflight[key] = settled
            settled.add_done_callback(lambda _: g.settled.set())

    async def _acker(self, g: _Group) -> None:
        """XACK what its handler finished, a batch at a time; a cancelled future (the agent closing)
        is let go unacknowledged, for the partition's next holder."""
        retry_s = 0.5
        while not self._stopped.is_set():
            await self._unless_stopped(g.settled.wait())
            if self._stopped.is_set():
                return
            g.settled.clear()
            finished = [k for k, f in g.inflight.items() if f.done()]
            for key in finished:
                future = g.inflight[key]
                if future.cancelled():
                    del g.inflight[key]
                    g.acked.set()
                elif future.exception() is not None:
                    log.error("agent failed a queued message", exc_info=future.exception(), extra={"group": g.name})
            done = [k for k in finished if k in g.inflight]
            if not done:
                continue
            try:
                for p, ids in _by_partition(done).items():
                    await self._redis.xack(self._streams[p], g.name, *ids)
            except (RedisError, OSError) as exc:  # keep them (and keep touching them); try again
                log.warning("cannot acknowledge queue entries", extra={"group": g.name, "error": str(exc)})
                g.settled.set()
                await asyncio.sleep(retry_s)  # not _pause: while closing, acks still matter most
                retry_s = min(retry_s * 2, RETRY_MAX_S)
                continue
            retry_s = 0.5
            for key in done:
                g.inflight.pop(key, None)
            g.acked.set()

    # partitions -------------------------------------------------------------------------

    async def _keeper(self, g: _Group) -> None:
        """Every ``beat_s``: renew this node's leases and membership, take free partitions, hand over
        those another live node should hold. While closing it only renews."""
        while not self._stopped.is_set():
            try:
                await self._keep(g)
            except (RedisError, OSError) as exc:
                log.warning("queue partitions not kept", extra={"group": g.name, "error": str(exc)})
            except Exception:  # never end silently: a node that stops keeping its partitions loses them
                log.exception("queue partitions not kept", extra={"group": g.name})
            await self._nap(self._beat_s)

    async def _keep(self, g: _Group) -> None:
        me = g.leases.me
        beat = await g.leases.beat()
        members = beat.members if me in beat.members else [*beat.members, me]
        free_now: set[int] = set()
        for p, holder in enumerate(beat.holders):
            if p in g.held and holder != me:  # this node stalled past its lease; another may hold it now
                log.warning("queue partition lease lost", extra={"group": g.name, "partition": p})
                g.held.discard(p)
                g.reading.discard(p)
                g.handing_over.discard(p)
                continue
            if self._closing.is_set():
                continue
            wanted = preferred(g.name, p, members)
            if holder == me and p not in g.reading and p not in g.handing_over:
                # ours, not read yet: the answer to SET was lost, or the takeover's claims failed (Redis away)
                await self._take_over(g, p)
            elif holder == me:
                if wanted != me and p not in g.handing_over:
                    g.handing_over.add(p)  # read no more; let go once nothing of it is in hand
                    g.reading.discard(p)
                elif wanted == me and p in g.handing_over:  # the node it was going to has gone
                    g.handing_over.discard(p)
                    g.reading.add(p)
                    g.more.set()
                if p in g.handing_over and p not in g.in_read and not g.holds_entries_of(p):
                    await g.leases.release(p)
                    g.held.discard(p)
                    g.handing_over.discard(p)
                    log.info("queue partition handed over", extra={"group": g.name, "partition": p})
            elif not holder:
                # its preferred member takes it; anyone does once it stayed free a whole beat
                if (wanted == me or p in g.free_before) and await g.leases.acquire(p):
                    await self._take_over(g, p)
                else:
                    free_now.add(p)
        g.free_before = free_now

    async def _take_over(self, g: _Group, partition: int) -> None:
        """A partition just became ours: what its last holder left unfinished is handled first, in
        stream order and marked redelivered, then its new entries are read."""
        g.held.add(partition)
        g.used.add(partition)
        claimed = await self._claim(g, partition, min_idle_ms=0, pages=None)
        log.info("queue partition taken", extra={"group": g.name, "partition": partition, "claimed": claimed})
        if partition in g.held and partition not in g.handing_over:
            g.reading.add(partition)
            g.more.set()

    async def _claimer(self, g: _Group) -> None:
        """Every ``claim_idle_s / 3``: touch our own pending entries, claim idle ones in the partitions
        we read, and remove consumers long dead with nothing pending (each node start adds a consumer).
        While closing it only touches, so the entries being drained stay ours."""
        while not self._stopped.is_set():
            await self._nap(self._touch_s)
            try:
                await self._touch(g)
                if not self._closing.is_set():
                    for p in sorted(g.reading):
                        await self._claim(g, p, min_idle_ms=self._claim_idle_ms, pages=CLAIM_PAGES)
                    await self._sweep(g)
            except (RedisError, OSError) as exc:
                log.warning("queue maintenance failed", extra={"group": g.name, "error": str(exc)})

    async def _touch(self, g: _Group) -> None:
        """Reset the idle time of entries this node still works on."""
        for p, ids in _by_partition([*g.received, *g.inflight]).items():
            for start in range(0, len(ids), 500):
                await self._redis.xclaim(
                    self._streams[p], g.name, self.consumer, 0, ids[start : start + 500], justid=True
                )

    async def _claim(self, g: _Group, partition: int, *, min_idle_ms: int, pages: int | None) -> int:
        """Claim the partition's pending entries idle for ``min_idle_ms`` (all of them: ``pages`` None);
        how many were handed to the handler."""
        start: bytes | str = "0-0"
        page = 0
        handed = 0
        while pages is None or page < pages:
            page += 1
            if self._closing.is_set():
                return handed
            reply = await self._redis.xautoclaim(
                self._streams[partition], g.name, self.consumer, min_idle_ms, start, count=self._batch
            )
            start, claimed = reply[0], [(i, d) for i, d in reply[1] if i is not None]
            mine = {i for p, i in (*g.received, *g.inflight) if p == partition}
            claimed = [(i, d) for i, d in claimed if i not in mine]
            if claimed:
                log.info("claimed queue entries left unfinished", extra={"group": g.name, "n": len(claimed)})
            g.received.update((partition, entry_id) for entry_id, _ in claimed)
            for entry_id, data in claimed:  # another consumer had it: it may have been handled
                await self._handle(g, partition, entry_id, data, redelivered=True)
            handed += len(claimed)
            if start in (b"0-0", "0-0"):
                return handed
        return handed

    async def _sweep(self, g: _Group) -> None:
        for p in sorted(g.held):
            for consumer in await self._redis.xinfo_consumers(self._streams[p], g.name):
                name = _text(consumer["name"])
                if name != self.consumer and consumer["pending"] == 0 and consumer["idle"] > self._dead_consumer_ms:
                    await self._redis.xgroup_delconsumer(self._streams[p], g.name, name)

    async def _leave(self, g: _Group) -> None:
        """Release the partitions with nothing unfinished, stop being a member, and remove this node's
        consumer where nothing is pending on it (deleting it would drop pending entries)."""
        try:
            for p in sorted(g.held):
                if not g.holds_entries_of(p):
                    await g.leases.release(p)
            await g.leases.leave()
            for p in sorted(g.used):
                for consumer in await self._redis.xinfo_consumers(self._streams[p], g.name):
                    if _text(consumer["name"]) == self.consumer and consumer["pending"] == 0:
                        await self._redis.xgroup_delconsumer(self._streams[p], g.name, self.consumer)
        except (RedisError, OSError) as exc:
            log.warning("cannot leave the queue group", extra={"group": g.name, "error": str(exc)})

    # helpers ----------------------------------------------------------------------------

    def _entries(self, reply: Any) -> list[tuple[int, bytes, dict[bytes, bytes] | None]]:
        """XREADGROUP's entries with their partition, in either reply shape (RESP2 list, RESP3 dict)."""
        if not reply:
            return []
        streams: Iterable[tuple[Any, Any]] = reply.items() if isinstance(reply, dict) else ((r[0], r[1]) for r in reply)
        entries: list[tuple[int, bytes, dict[bytes, bytes] | None]] = []
        for name, stream_entries in streams:
            p = self._partition_by_stream[name if isinstance(name, bytes) else str(name).encode()]
            if stream_entries and isinstance(stream_entries[0], list):
                stream_entries = stream_entries[0]  # RESP3 wraps them once more
            entries.extend((p, entry_id, data) for entry_id, data in stream_entries if entry_id is not None)
        return entries

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

    async def _nap(self, seconds: float) -> None:
        """Sleep, or less when the loops are stopped."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopped.wait()

    async def _unless_stopped(self, waiting: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(waiting)
        stopped = asyncio.ensure_future(self._stopped.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for future in (task, stopped):
                future.cancel()

    async def _pause(self, retry_s: float) -> float:
        """Sleep ``retry_s`` (or until close) and return the next, longer, pause."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(retry_s):
                await self._closing.wait()
        return min(retry_s * 2, RETRY_MAX_S)


def _by_partition(keys: Iterable[_Key]) -> dict[int, list[StreamIdT]]:
    grouped: dict[int, list[StreamIdT]] = {}
    for p, entry_id in keys:
        grouped.setdefault(p, []).append(entry_id)
    return grouped


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


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
