"""The in-process agent queue is bounded: a group that stops taking messages makes publishers wait,
then fail with a clear error, and it takes up again where it stopped once its handler moves."""

from __future__ import annotations

import asyncio

import pytest

from eliza_messaging.protocol.types import DEFAULT_SERVER_ID
from eliza_messaging.queue.memory import InProcessQueue, QueueFull
from eliza_messaging.records import Channel, Message
from tests.conftest import new_id

CHANNEL = Channel(id=new_id(), message_server_id=DEFAULT_SERVER_ID, name="c", type="GROUP", created_at=0, updated_at=0)


def message(n: int) -> Message:
    return Message(
        id=f"m{n}",
        channel_id=CHANNEL.id,
        author_id=new_id(),
        author_name="a",
        content=str(n),
        source_type="test",
        created_at=n,
        updated_at=n,
    )


async def test_a_stuck_group_fills_its_bound_then_publish_fails_and_recovers() -> None:
    queue = InProcessQueue(max_pending=3, put_timeout_s=0.2)
    moving = asyncio.Event()
    taken: list[str] = []

    async def handler(m: Message, _: Channel) -> None:
        taken.append(m.id)
        await moving.wait()

    queue.subscribe("agent", handler)
    try:
        for n in range(4):  # the handler holds the first; three more fill the bound
            await queue.publish(message(n), CHANNEL)
        await asyncio.sleep(0)
        assert queue.pending("agent") == 3 and taken == ["m0"]
        with pytest.raises(QueueFull, match="has 3 messages waiting"):
            await queue.publish(message(4), CHANNEL)
        assert queue.pending("agent") == 3  # nothing beyond the bound was kept
        moving.set()
        await queue.publish(message(5), CHANNEL)  # the positive control: room again once it moves
        for _ in range(100):
            if len(taken) == 5:
                break
            await asyncio.sleep(0.01)
        assert taken == ["m0", "m1", "m2", "m3", "m5"]
    finally:
        await queue.close()


async def test_a_publisher_waits_for_room_rather_than_failing_at_once() -> None:
    queue = InProcessQueue(max_pending=1, put_timeout_s=5)
    gate = asyncio.Event()
    taken: list[str] = []

    async def handler(m: Message, _: Channel) -> None:
        await gate.wait()
        taken.append(m.id)

    queue.subscribe("agent", handler)
    try:
        await queue.publish(message(0), CHANNEL)
        await asyncio.sleep(0)
        await queue.publish(message(1), CHANNEL)
        waiting = asyncio.create_task(queue.publish(message(2), CHANNEL))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # full: the publisher waits
        gate.set()
        await asyncio.wait_for(waiting, 5)
        for _ in range(100):
            if len(taken) == 3:
                break
            await asyncio.sleep(0.01)
        assert taken == ["m0", "m1", "m2"]
    finally:
        await queue.close()
