"""Nothing stranded: a stored message whose broadcast or agent hand-off failed once is still delivered.

The service runs on a real SQLite file and the real in-process queue; the fanout records what the
room would see, and one of the two steps raises once, as a Redis hiccup would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from eliza_messaging.messaging.errors import DeliveryFailed
from eliza_messaging.messaging.identity import Caller
from eliza_messaging.messaging.service import MessagingService
from eliza_messaging.protocol.commands import SendMessage
from eliza_messaging.protocol.types import DEFAULT_SERVER_ID, Event
from eliza_messaging.queue.memory import InProcessQueue
from eliza_messaging.records import Channel, Message
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id


@dataclass
class RoomFanout:
    """What each room would have been sent; raises once when ``fail_once`` is set."""

    fail_once: bool = False
    rooms: dict[str, list[Any]] = field(default_factory=dict)

    async def emit(
        self, event: str, data: Any, *, room: str | None = None, to: str | None = None, skip_sid: str | None = None
    ) -> None:
        if event == Event.MESSAGE_BROADCAST and room is not None:
            if self.fail_once:
                self.fail_once = False
                raise ConnectionError("the fanout is away")
            self.rooms.setdefault(room, []).append(data)

    async def enter_room(self, sid: str, room: str) -> None: ...

    async def leave_room(self, sid: str, room: str) -> None: ...


class FlakyQueue(InProcessQueue):
    def __init__(self) -> None:
        super().__init__()
        self.fail_once = False

    async def publish(self, message: Message, channel: Channel) -> None:
        if self.fail_once:
            self.fail_once = False
            raise ConnectionError("the queue is away")
        await super().publish(message, channel)


@dataclass
class World:
    service: MessagingService
    fanout: RoomFanout
    queue: FlakyQueue
    agent_got: list[str]
    arrived: asyncio.Event

    async def agent_saw(self, count: int) -> list[str]:
        async with asyncio.timeout(5):
            while len(self.agent_got) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.agent_got


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = SQLiteStore(tmp_path / "m.sqlite3")
    await store.open()
    fanout, queue = RoomFanout(), FlakyQueue()
    got: list[str] = []
    arrived = asyncio.Event()

    async def agent(message: Message, channel: Channel) -> None:
        got.append(message.content)
        arrived.set()

    queue.subscribe("agent", agent)
    service = MessagingService(store, fanout, queue, outbox_timing=(30.0, 0))
    await service.start()
    await service.outbox.start()
    yield World(service, fanout, queue, got, arrived)
    await queue.close()
    await service.close()
    await store.close()


USER_ID = "11111111-1111-4111-8111-111111111111"
USER = Caller(entity_id=USER_ID)


def send(room: str, text: str, client_id: str, sender: str = USER_ID) -> SendMessage:
    return SendMessage(
        channel_id=room,
        server_id=DEFAULT_SERVER_ID,
        sender_id=sender,
        sender_name="Ann",
        text=text,
        client_message_id=client_id,
        source="test",
    )


def texts(fanout: RoomFanout, room: str) -> list[str]:
    return [m["text"] for m in fanout.rooms.get(room, [])]


async def test_a_retry_delivers_what_the_queue_failed_to_take(world: World) -> None:
    room, client_id = new_id(), new_id()
    world.queue.fail_once = True
    with pytest.raises(DeliveryFailed) as failed:
        await world.service.send(send(room, "lost?", client_id), sid="s1", caller=USER)
    assert "same messageId" in failed.value.message
    assert world.agent_got == []
    result = await world.service.send(send(room, "lost?", client_id), sid="s1", caller=USER)
    assert result.duplicate
    assert await world.agent_saw(1) == ["lost?"]
    await world.service.send(send(room, "control", new_id()), sid="s1", caller=USER)  # positive control, after it
    assert await world.agent_saw(2) == ["lost?", "control"]
    await world.service.outbox.flush()
    again = await world.service.send(send(room, "lost?", client_id), sid="s1", caller=USER)  # published now: ack only
    assert again.duplicate
    await world.service.send(send(room, "control 2", new_id()), sid="s1", caller=USER)
    assert await world.agent_saw(3) == ["lost?", "control", "control 2"]


async def test_a_retry_delivers_what_the_room_never_got(world: World) -> None:
    room, client_id = new_id(), new_id()
    world.fanout.fail_once = True
    with pytest.raises(DeliveryFailed):
        await world.service.send(send(room, "hello", client_id), sid="s1", caller=USER)
    assert texts(world.fanout, room) == []
    await world.service.send(send(room, "hello", client_id), sid="s1", caller=USER)
    assert texts(world.fanout, room) == ["hello"]
    assert await world.agent_saw(1) == ["hello"]


async def test_the_sweep_delivers_a_failed_message_nobody_retried(world: World) -> None:
    room = new_id()
    world.fanout.fail_once = True
    with pytest.raises(DeliveryFailed):
        await world.service.send(send(room, "orphan", new_id()), sid="s1", caller=USER)
    await world.service.send(send(room, "next", new_id()), sid="s1", caller=USER)
    assert texts(world.fanout, room) == ["next"]
    assert await world.service.outbox.sweep() == 1
    assert texts(world.fanout, room) == ["next", "orphan"]
    assert sorted(await world.agent_saw(2)) == ["next", "orphan"]
    await world.service.outbox.flush()
    assert await world.service.outbox.sweep() == 0  # published once


async def test_an_agent_reply_whose_broadcast_failed_is_delivered_by_the_sweep(world: World) -> None:
    room = new_id()
    await world.service.send(send(room, "hi", new_id()), sid="s1", caller=USER)
    channel = await world.service.channels.get(room)
    assert channel is not None
    trigger = (await world.service.history(room, limit=1))[0]
    world.fanout.fail_once = True
    with pytest.raises(DeliveryFailed):
        async with world.service.open_reply(new_id(), "Eliza", channel, trigger) as reply:
            await reply.finish("hello!")
    assert texts(world.fanout, room) == ["hi"]
    assert await world.service.outbox.sweep() == 1
    assert texts(world.fanout, room) == ["hi", "hello!"]


async def test_a_live_send_is_not_swept_twice(world: World) -> None:
    """The sweep leaves a fresh row to its live send (the lease), even before it is marked."""
    room = new_id()
    await world.service.send(send(room, "once", new_id()), sid="s1", caller=USER)
    assert await world.service.outbox.sweep() == 0
    assert texts(world.fanout, room) == ["once"]
