"""The Redis Streams queue on a real Redis: each agent group gets each message once, across nodes,
and a channel's messages reach one node at a time, in order (its partition's lease holder).

Each queue instance plays one node (its own consumer in every group). Without Redis the tests
skip (fail under CI=true).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from redis.asyncio import Redis

from eliza_messaging.queue.partitions import PARTITIONS, partition_of, preferred
from eliza_messaging.queue.redis import RedisStreamQueue
from eliza_messaging.records import Channel, Message
from tests.conftest import new_id
from tests.support.redis_env import REDIS_TEST_URL, redis_prefix
from tests.support.server import REPO

CLAIM_IDLE_S = 0.6  # short, so a dead consumer's entries move within the test
LEASE_S = 1.0  # short, so a dead node's partitions move within the test


@pytest.fixture
async def stream() -> AsyncIterator[str]:
    async with redis_prefix() as prefix:
        yield f"{prefix}:messages"


@pytest.fixture
async def nodes(stream: str) -> AsyncIterator[Callable[..., RedisStreamQueue]]:
    """Start queues on one stream, as several nodes would; all are closed after the test."""
    started: list[RedisStreamQueue] = []

    def make(**options: Any) -> RedisStreamQueue:
        options.setdefault("claim_idle_s", CLAIM_IDLE_S)
        options.setdefault("drain_s", 1.0)
        options.setdefault("lease_s", LEASE_S)
        options.setdefault("beat_s", LEASE_S / 5)
        queue = RedisStreamQueue(REDIS_TEST_URL, stream=stream, **options)
        started.append(queue)
        return queue

    yield make
    for queue in started:
        with contextlib.suppress(Exception):
            await queue.close()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_TEST_URL)
    yield client
    await client.aclose()


def record(text: str, channel_id: str | None = None) -> tuple[Message, Channel]:
    channel = Channel(id=channel_id or new_id(), message_server_id=new_id(), name="c", type="GROUP", metadata={"k": 1})
    message = Message(
        id=new_id(),
        channel_id=channel.id,
        author_id=new_id(),
        author_name="Ann",
        content=text,
        source_type="test",
        created_at=1,
        updated_at=2,
        raw_message={"senderName": "Ann", "attachments": []},
        metadata={"isDm": True, "nested": {"a": [1, 2]}},
        client_message_id="c-1",
    )
    return message, channel


class Recorder:
    """A handler that records what it got; ``settle`` makes it return futures the test resolves."""

    def __init__(self, delay: float = 0.0, settle: bool = False) -> None:
        self.got: list[Message] = []
        self.channels: list[Channel] = []
        self.delay = delay
        self.settle = settle
        self.futures: list[asyncio.Future[None]] = []
        self.arrived = asyncio.Event()
        self.redelivered: list[bool] = []

    async def __call__(
        self, message: Message, channel: Channel, *, redelivered: bool = False
    ) -> asyncio.Future[None] | None:
        self.got.append(message)
        self.redelivered.append(redelivered)
        self.channels.append(channel)
        self.arrived.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.settle:
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.futures.append(future)
        return future


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if result if isinstance(result, bool) else await result:
                return
            await asyncio.sleep(0.02)


async def pending(redis: Redis, stream: str, group: str) -> int:
    return int((await redis.xpending(stream, group))["pending"])


async def test_each_group_gets_each_message_once_in_order_with_the_records_intact(
    nodes: Callable[..., RedisStreamQueue],
) -> None:
    queue = nodes()
    ada, bo = Recorder(), Recorder()
    queue.subscribe("agent:ada", ada)
    queue.subscribe("agent:bo", bo)
    channel_id = new_id()
    sent = [record(f"m{i}", channel_id) for i in range(5)]
    for message, channel in sent:
        await queue.publish(message, channel)
    await until(lambda: len(ada.got) == 5 and len(bo.got) == 5)
    await asyncio.sleep(0.2)  # and nothing more comes
    # positive control: the next message still arrives; a second delivery of an earlier one would come first
    sent.append(record("m5", channel_id))
    await queue.publish(*sent[-1])
    await until(lambda: len(ada.got) >= 6 and len(bo.got) >= 6)
    assert ada.got == bo.got == [m for m, _ in sent]  # the records round-trip whole (ids, text, metadata, times)
    assert ada.channels == [c for _, c in sent]
    # messages of other channels (other partitions) arrive too, each once
    others = [record(f"o{i}") for i in range(10)]
    for message, channel in others:
        await queue.publish(message, channel)
    await until(lambda: len(ada.got) >= 16 and len(bo.got) >= 16)
    await asyncio.sleep(0.2)
    assert sorted(m.id for m in ada.got[6:]) == sorted(m.id for m in bo.got[6:]) == sorted(m.id for m, _ in others)


async def test_a_group_subscribed_later_does_not_get_earlier_messages(nodes: Callable[..., RedisStreamQueue]) -> None:
    queue = nodes()
    early = Recorder()
    queue.subscribe("agent:early", early)
    await queue.publish(*record("before"))
    await until(lambda: len(early.got) == 1)
    late = Recorder()
    queue.subscribe("agent:late", late)
    await queue.publish(*record("after"))  # publish waits until the new group exists
    await until(lambda: len(late.got) == 1 and len(early.got) == 2)
    assert [m.content for m in late.got] == ["after"]


async def test_two_nodes_in_one_group_share_its_messages_without_duplicates(
    nodes: Callable[..., RedisStreamQueue], redis: Redis, stream: str
) -> None:
    a, b = nodes(), nodes()
    on_a, on_b = Recorder(delay=0.03), Recorder(delay=0.03)
    a.subscribe("agent:eliza", on_a)
    b.subscribe("agent:eliza", on_b)
    publisher = nodes()  # a node without the agent: it publishes only once the group exists
    await until(lambda: _shared(a, b, "agent:eliza"))  # the partitions are spread over both nodes
    sent = [record(f"m{i}") for i in range(40)]
    for message, channel in sent:
        await publisher.publish(message, channel)
        await asyncio.sleep(0.01)
    await until(lambda: len(on_a.got) + len(on_b.got) >= 40)
    await asyncio.sleep(0.3)
    # positive control: the group still takes messages after the quiet window
    sent.append(record("m40"))
    await publisher.publish(*sent[-1])
    await until(lambda: sent[-1][0] in on_a.got + on_b.got)
    ids = [m.id for m in on_a.got + on_b.got]
    assert sorted(ids) == sorted(m.id for m, _ in sent)  # every message once, none twice
    assert on_a.got and on_b.got  # both nodes took a share
    # each message went to the node holding its channel's partition
    assert all(partition_of(m.channel_id, PARTITIONS) in a.held("agent:eliza") for m in on_a.got)
    assert all(partition_of(m.channel_id, PARTITIONS) in b.held("agent:eliza") for m in on_b.got)
    streams = {publisher.stream_of(c.id) for _, c in sent}
    await until(lambda: _none_pending(redis, streams, "agent:eliza"))


async def test_a_dead_consumers_pending_message_is_claimed_and_handled_by_another(
    nodes: Callable[..., RedisStreamQueue], redis: Redis, stream: str
) -> None:
    publisher = nodes()
    message, channel = record("left behind")
    partition_stream = publisher.stream_of(channel.id)
    await redis.xgroup_create(partition_stream, "agent:eliza", id="$", mkstream=True)
    await publisher.publish(message, channel)
    # a node reads the entry and dies before acknowledging it
    taken = await redis.xreadgroup("agent:eliza", "dead-node", {partition_stream: ">"}, count=10)
    assert len(taken[0][1]) == 1
    survivor = nodes()
    handler = Recorder()
    survivor.subscribe("agent:eliza", handler)
    await until(lambda: len(handler.got) == 1, timeout=CLAIM_IDLE_S * 5 + 2)
    assert handler.got[0] == message
    await until(lambda: _equals(pending(redis, partition_stream, "agent:eliza"), 0))
    await asyncio.sleep(CLAIM_IDLE_S * 2)
    # positive control: the survivor still takes new messages after the window
    later, _ = record("published later")
    await publisher.publish(later, channel)
    await until(lambda: len(handler.got) >= 2)
    assert handler.got == [message, later]  # claimed once, acknowledged, not handed over again
    assert handler.redelivered == [True, False]  # the claimed one may have been handled: it says so
    assert survivor.held("agent:eliza") == frozenset(range(PARTITIONS))  # alone: it reads every partition


async def test_unfinished_work_stays_with_its_node_until_it_dies_then_moves_once_in_order(
    nodes: Callable[..., RedisStreamQueue], redis: Redis, stream: str
) -> None:
    async with queue_process(stream, "agent:eliza") as first:  # never finishes its work; killed below
        publisher = nodes()
        channel_id = new_id()
        partition_stream = publisher.stream_of(channel_id)
        await until(lambda: _exists_group(redis, partition_stream, "agent:eliza"))
        sent = [record(f"part {i}", channel_id) for i in range(2)]
        for message, channel in sent:
            await publisher.publish(message, channel)
            assert await first.took() == message.id
        second = nodes()
        other = Recorder(settle=True)
        second.subscribe("agent:eliza", other)
        await until(lambda: bool(second.held("agent:eliza")))  # it has its share of the partitions
        # the first node works on them for longer than the claim idle time and the lease, renewing all along
        await asyncio.sleep(max(CLAIM_IDLE_S, LEASE_S) * 2)
        assert other.got == [] and await pending(redis, partition_stream, "agent:eliza") == 2
        first.kill()  # no close, no ack: a crash
    sent.append(record("after the crash", channel_id))
    await publisher.publish(*sent[-1])
    # positive control of the window above: once its lease expires, the second node takes the partition over
    await until(lambda: len(other.got) == 3, timeout=LEASE_S * 5 + 2)
    assert [m.id for m in other.got] == [m.id for m, _ in sent]  # what was left first, in order, then the new
    assert other.redelivered[:2] == [True, True]
    assert await pending(redis, partition_stream, "agent:eliza") == 3  # still unfinished on the second node
    for future in other.futures:
        future.set_result(None)  # the agent is done: now they are acknowledged
    await until(lambda: _equals(pending(redis, partition_stream, "agent:eliza"), 0))
    # the dead node is no longer a member, so every partition is the survivor's
    await until(lambda: second.held("agent:eliza") == frozenset(range(PARTITIONS)), timeout=LEASE_S * 5 + 2)
    members = await redis.zrange(f"{stream}:members:agent:eliza", 0, -1)
    assert [m.decode() for m in members] == [second.consumer]


async def test_a_channel_moves_to_a_joining_node_only_once_nothing_of_it_is_in_hand(
    nodes: Callable[..., RedisStreamQueue], redis: Redis, stream: str
) -> None:
    group = "agent:eliza"
    channel_id = _channel_preferring("node-b", ["node-a", "node-b"], group)
    p = partition_of(channel_id, PARTITIONS)
    a = nodes(consumer="node-a")
    on_a = Recorder(settle=True)
    a.subscribe(group, on_a)
    await until(lambda: a.held(group) == frozenset(range(PARTITIONS)))  # alone: every partition is A's
    first = record("first", channel_id)
    await a.publish(*first)
    await until(lambda: len(on_a.got) == 1)

    b = nodes(consumer="node-b")
    on_b = Recorder(settle=True)
    b.subscribe(group, on_b)
    await until(lambda: bool(b.held(group)))  # B's share moved, all but the partition A has work in
    assert p not in b.held(group) and p not in a.held(group)  # A reads it no more, but still holds it
    second = record("second", channel_id)
    await a.publish(*second)
    await asyncio.sleep(LEASE_S)
    assert [m.content for m in on_a.got] == ["first"] and on_b.got == []  # waits: no second lane meanwhile
    on_a.futures[0].set_result(None)  # A is done with the channel: it lets the partition go
    await until(lambda: len(on_b.got) == 1)
    assert [m.content for m in on_b.got] == ["second"] and on_b.redelivered == [False]
    assert p in b.held(group) and [m.content for m in on_a.got] == ["first"]
    # the two nodes share the partitions without overlap
    assert not a.held(group) & b.held(group) and a.held(group) | b.held(group) == frozenset(range(PARTITIONS))


def test_partitions_are_the_same_on_every_node_and_move_only_a_leaving_nodes_share() -> None:
    assert partition_of("a-channel", PARTITIONS) == 4042762231 % PARTITIONS  # zlib.crc32: no per-process salt
    members = ["node-a", "node-b", "node-c"]
    before = {p: preferred("agent:x", p, members) for p in range(PARTITIONS)}
    assert all(list(before.values()).count(m) >= PARTITIONS // 6 for m in members)  # each gets a fair share
    after = {p: preferred("agent:x", p, members[:2]) for p in range(PARTITIONS)}
    assert {p for p in before if before[p] != after[p]} == {p for p in before if before[p] == "node-c"}
    assert preferred("agent:x", 0, []) is None


async def test_close_drains_finished_work_leaves_the_rest_and_removes_an_idle_consumer(
    nodes: Callable[..., RedisStreamQueue], redis: Redis, stream: str
) -> None:
    # a long blocking read must not hold up close; a long lease keeps the entry left below with this node
    queue = nodes(block_s=30.0, drain_s=1.0, lease_s=30.0, beat_s=0.2)
    handler = Recorder(settle=True)
    queue.subscribe("agent:eliza", handler)
    channel_id = new_id()
    partition_stream = queue.stream_of(channel_id)
    await until(lambda: _exists_group(redis, partition_stream, "agent:eliza"))
    await queue.publish(*record("finishes while closing", channel_id))
    await queue.publish(*record("never finishes", channel_id))
    await until(lambda: len(handler.got) == 2)
    asyncio.get_running_loop().call_later(0.2, handler.futures[0].set_result, None)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await queue.close()
    assert loop.time() - started < 3
    assert await pending(redis, partition_stream, "agent:eliza") == 1  # the unfinished one, for another node
    consumers = {c["name"].decode(): c["pending"] for c in await redis.xinfo_consumers(partition_stream, "agent:eliza")}
    assert consumers == {queue.consumer: 1}  # kept: deleting it would drop its pending entry
    # its partition stays leased (its lane may still be answering); every other one was let go at once
    leases = {p: await redis.get(f"{stream}:{p}:lease:agent:eliza") for p in range(PARTITIONS)}
    assert {p for p, holder in leases.items() if holder} == {partition_of(channel_id, PARTITIONS)}

    idle = nodes(block_s=30.0, claim_idle_s=30.0)  # it must not claim the entry left above meanwhile
    done = Recorder()
    idle.subscribe("agent:eliza", done)
    await until(lambda: len(idle.held("agent:eliza")) == PARTITIONS - 1)
    other_channel = _channel_not_in(partition_of(channel_id, PARTITIONS))
    other_stream = idle.stream_of(other_channel)
    await idle.publish(*record("handled and acknowledged", other_channel))
    await until(lambda: len(done.got) == 1)
    await until(lambda: _equals(pending(redis, other_stream, "agent:eliza"), 0))
    assert await pending(redis, partition_stream, "agent:eliza") == 1  # only the one left above
    assert await _has_consumer(redis, other_stream, "agent:eliza", idle.consumer)
    await idle.close()
    assert not await _has_consumer(redis, other_stream, "agent:eliza", idle.consumer)  # nothing pending: removed
    assert not await redis.zrange(f"{stream}:members:agent:eliza", 0, -1)  # both left the group
    tasks = [t for t in asyncio.all_tasks() if (t.get_name() or "").startswith("redis queue")]
    assert tasks == []


async def test_a_handler_that_raises_does_not_stop_the_group(nodes: Callable[..., RedisStreamQueue]) -> None:
    queue = nodes()
    got: list[str] = []

    async def fragile(message: Message, channel: Channel, *, redelivered: bool = False) -> None:
        got.append(message.content)
        if message.content == "boom":
            raise RuntimeError("boom")

    queue.subscribe("agent:eliza", fragile)
    channel_id = new_id()
    await queue.publish(*record("boom", channel_id))
    await queue.publish(*record("fine", channel_id))
    await until(lambda: got == ["boom", "fine"])


async def test_publishing_to_an_unreachable_redis_logs_and_returns(caplog: pytest.LogCaptureFixture) -> None:
    queue = RedisStreamQueue("redis://127.0.0.1:1/0", stream="nowhere:messages")
    try:
        message, channel = record("lost")
        await queue.publish(replace(message, content="lost"), channel)
    finally:
        await queue.close()
    assert "message not handed to the agents" in caplog.text


class QueueProcess:
    """A queue node in a child process (tests/support/queue_node.py) that takes messages and never finishes."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def took(self, timeout: float = 5.0) -> str:
        """The id of the next message the node took."""
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        assert line, f"the queue node exited with {await self.proc.wait()}"
        return str(json.loads(line)["id"])

    def kill(self) -> None:
        self.proc.kill()


@contextlib.asynccontextmanager
async def queue_process(stream: str, group: str) -> AsyncIterator[QueueProcess]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.queue_node",
        REDIS_TEST_URL,
        stream,
        group,
        str(CLAIM_IDLE_S),
        str(LEASE_S),
        stdout=asyncio.subprocess.PIPE,
        cwd=REPO,
    )
    try:
        yield QueueProcess(proc)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _exists_group(redis: Redis, stream: str, group: str) -> bool:
    if not await redis.exists(stream):
        return False
    return any(g["name"].decode() == group for g in await redis.xinfo_groups(stream))


async def _has_consumer(redis: Redis, stream: str, group: str, consumer: str) -> bool:
    return any(c["name"].decode() == consumer for c in await redis.xinfo_consumers(stream, group))


async def _shared(a: RedisStreamQueue, b: RedisStreamQueue, group: str) -> bool:
    """The partitions are where they settle: each with its preferred node of the two."""
    members = [a.consumer, b.consumer]
    wanted_a = frozenset(p for p in range(PARTITIONS) if preferred(group, p, members) == a.consumer)
    return a.held(group) == wanted_a and b.held(group) == frozenset(range(PARTITIONS)) - wanted_a


def _channel_preferring(member: str, members: list[str], group: str) -> str:
    """A channel id whose partition ``member`` is preferred for."""
    while True:
        channel_id = new_id()
        if preferred(group, partition_of(channel_id, PARTITIONS), members) == member:
            return channel_id


def _channel_not_in(partition: int) -> str:
    while True:
        channel_id = new_id()
        if partition_of(channel_id, PARTITIONS) != partition:
            return channel_id


async def _none_pending(redis: Redis, streams: set[str], group: str) -> bool:
    return all([await pending(redis, name, group) == 0 for name in streams])
