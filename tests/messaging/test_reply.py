"""A reply in progress (``messaging/reply.py``): what the room and the REST waiters see, and its two
promises: the end is sent exactly once however the work is cut short, and a stored reply is never
reported failed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from eliza_messaging.messaging.errors import AgentUnavailable, StorageUnavailable
from eliza_messaging.messaging.identity import Caller
from eliza_messaging.messaging.replies import Watch, await_reply
from eliza_messaging.messaging.reply import Reply
from eliza_messaging.messaging.service import MessagingService
from eliza_messaging.protocol.commands import SendMessage
from eliza_messaging.protocol.types import DEFAULT_SERVER_ID, Event
from eliza_messaging.queue.memory import InProcessQueue
from eliza_messaging.records import Channel, Message, StoredMessage
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id
from tests.support.recording import RecordingFanout

AGENT = new_id()


@dataclass
class Setup:
    service: MessagingService
    fanout: RecordingFanout
    store: SQLiteStore
    channel: Channel
    trigger: Message
    watch: Watch

    def open(self) -> Reply:
        return self.service.open_reply(AGENT, "Tess", self.channel, self.trigger)

    def names(self) -> list[str]:
        """What the room saw after the person's own message, by event name (controls by action)."""
        seen = []
        for event, data in self.fanout.events():
            if event == Event.MESSAGE_BROADCAST and data["senderId"] != AGENT:
                continue
            seen.append(data["action"] if event == Event.CONTROL_MESSAGE else event)
        return seen

    def steps(self) -> list[str]:
        found = []
        while not self.watch.steps.empty():
            found.append(self.watch.steps.get_nowait().kind)
        return found


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    store = SQLiteStore(tmp_path / "reply.sqlite3")
    await store.open()
    fanout = RecordingFanout()
    service = MessagingService(store, fanout, InProcessQueue())
    await service.start()
    sender = new_id()
    command = SendMessage(
        channel_id=new_id(),
        server_id=DEFAULT_SERVER_ID,
        sender_id=sender,
        sender_name="Pat",
        text="hello",
        client_message_id=None,
        source="test",
    )
    sent, watch = await service.send_watched(command, caller=Caller(entity_id=sender))
    yield Setup(service, fanout, store, sent.channel, sent.message, watch)
    watch.close()
    await service.close()
    await store.close()


async def test_a_reply_streams_is_stored_and_ends(setup: Setup) -> None:
    async with setup.open() as reply:
        await reply.chunk("Tell")
        await reply.chunk(" me more.")
        stored = await reply.finish("Tell me more.", metadata={"actions": ["REPLY"]})
    assert setup.names() == [
        "disable_input",
        "message",
        "messageStreamChunk",
        "messageStreamChunk",
        "messageBroadcast",
        "enable_input",
        "messageComplete",
    ]
    assert setup.steps() == ["thinking", "chunk", "chunk", "reply", "done"]
    assert await setup.store.get_message(reply.id) == stored == reply.stored
    assert stored.in_reply_to_root_message_id == setup.trigger.id and stored.metadata["agentName"] == "Tess"
    complete = setup.fanout.events(Event.MESSAGE_COMPLETE)[0][1]
    assert complete["inReplyTo"] == setup.trigger.id and complete["agentId"] == AGENT


async def test_declining_gives_only_messagecomplete_and_the_waiter_hears_silence(setup: Setup) -> None:
    async with setup.open() as reply:
        await reply.decline()
    assert setup.names() == ["messageComplete"]
    outcome = await await_reply(setup.watch.steps, agents=[AGENT], timeout_s=1, message_id=setup.trigger.id)
    assert outcome.reply is None


async def test_leaving_before_starting_is_declining(setup: Setup) -> None:
    async with setup.open():
        pass
    assert setup.names() == ["messageComplete"]
    assert setup.steps() == ["done"]


async def test_an_error_before_starting_completes_and_tells_the_waiter(setup: Setup) -> None:
    """An agent failing while it decides (say, reading history) still gives the message its outcome."""
    with pytest.raises(RuntimeError, match="disk on fire"):
        async with setup.open():
            raise RuntimeError("disk on fire")
    assert setup.names() == ["messageComplete"]  # input was never disabled: nothing to re-enable
    with pytest.raises(AgentUnavailable, match="Tess failed to reply: disk on fire"):
        await await_reply(setup.watch.steps, agents=[AGENT], timeout_s=1, message_id=setup.trigger.id)


async def test_an_error_after_pieces_withdraws_them_and_ends(setup: Setup) -> None:
    with pytest.raises(ValueError):
        async with setup.open() as reply:
            await reply.chunk("Half a")
            raise ValueError("model broke")
    assert setup.names() == [
        "disable_input",
        "message",
        "messageStreamChunk",
        "messageStreamError",
        "messageDeleted",
        "enable_input",
        "messageComplete",
    ]
    error = setup.fanout.events(Event.MESSAGE_STREAM_ERROR)[0][1]
    assert error["partialText"] == "Half a" and "superseded" not in error
    assert error["error"] == "Tess failed to reply: model broke" and error["inReplyTo"] == setup.trigger.id
    assert setup.fanout.events(Event.MESSAGE_DELETED)[0][1]["reason"] == "failed"
    assert setup.steps() == ["thinking", "chunk", "error", "done"]
    assert await setup.store.get_message(reply.id) is None


async def test_fail_superseded_marks_it_and_ends_once(setup: Setup) -> None:
    async with setup.open() as reply:
        await reply.chunk("Let me")
        await reply.fail("Superseded.", superseded=True)
        await reply.fail("again")  # already over: nothing more is sent
    error = setup.fanout.events(Event.MESSAGE_STREAM_ERROR)
    assert [d["superseded"] for _, d in error] == [True]
    assert setup.fanout.events(Event.MESSAGE_DELETED)[0][1]["reason"] == "superseded"
    assert setup.names().count("messageComplete") == 1 and setup.names().count("enable_input") == 1
    assert setup.steps().count("done") == 1
    with pytest.raises(RuntimeError, match="already over"):
        await reply.chunk("late")


async def test_without_a_piece_there_is_nothing_to_withdraw(setup: Setup) -> None:
    async with setup.open() as reply:
        await reply.start()
        await reply.fail("The model returned an empty reply.")
    assert setup.names() == ["disable_input", "message", "messageStreamError", "enable_input", "messageComplete"]


async def test_a_second_cancel_while_ending_does_not_cut_the_end_short(setup: Setup) -> None:
    held = setup.fanout.hold(lambda event, data: event == Event.CONTROL_MESSAGE and data["action"] == "enable_input")

    streaming = asyncio.Event()

    async def work() -> None:
        async with setup.open() as reply:
            await reply.chunk("Let me")
            streaming.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(work())
    await asyncio.wait_for(streaming.wait(), 5)
    task.cancel()  # the first cancel: the reply ends, and is held while re-enabling input
    await asyncio.wait_for(held.reached.wait(), 5)
    task.cancel()  # a second cancel, in the middle of the end
    await asyncio.sleep(0)
    held.release()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert setup.names()[-4:] == ["messageStreamError", "messageDeleted", "enable_input", "messageComplete"]
    assert setup.steps()[-2:] == ["error", "done"]


async def test_a_cancel_while_the_reply_is_stored_lets_it_finish_and_never_reports_it_failed(
    setup: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    storing = asyncio.Event()
    go_on = asyncio.Event()
    store_message = setup.service.store_message

    async def slow_store(message: Message) -> StoredMessage:
        storing.set()
        await go_on.wait()
        return await store_message(message)

    monkeypatch.setattr(setup.service, "store_message", slow_store)

    async def work() -> None:
        async with setup.open() as reply:
            await reply.chunk("Tell me more.")
            try:
                await reply.finish("Tell me more.")
            except asyncio.CancelledError:
                await reply.fail("Superseded.", superseded=True)  # what an agent does; must not undo the reply
                raise

    task = asyncio.create_task(work())
    await asyncio.wait_for(storing.wait(), 5)
    task.cancel()
    await asyncio.sleep(0)
    go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    names = setup.names()
    assert "messageStreamError" not in names and "messageDeleted" not in names
    assert names[-3:] == ["messageBroadcast", "enable_input", "messageComplete"]
    assert setup.steps()[-2:] == ["reply", "done"]
    assert len(await setup.service.history(setup.channel.id, limit=10)) == 2  # the person's message and the reply


async def test_a_reply_that_could_not_be_stored_fails(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(message: Message) -> StoredMessage:
        raise StorageUnavailable("The message could not be stored.")

    monkeypatch.setattr(setup.service, "store_message", broken)
    with pytest.raises(StorageUnavailable):
        async with setup.open() as reply:
            await reply.finish("Tell me more.")
    assert setup.names()[-3:] == ["messageStreamError", "enable_input", "messageComplete"]
    assert "messageBroadcast" not in setup.names()


async def test_a_lost_stream_error_still_re_enables_input_and_completes(setup: Setup) -> None:
    setup.fanout.break_next(lambda event, data: event == Event.MESSAGE_STREAM_ERROR)
    async with setup.open() as reply:
        await reply.start()
        await reply.fail("model broke")
    assert setup.names()[-2:] == ["enable_input", "messageComplete"]
    assert setup.steps()[-2:] == ["error", "done"]


async def test_declining_a_started_reply_is_refused_with_what_to_do(setup: Setup) -> None:
    async with setup.open() as reply:
        await reply.start()
        with pytest.raises(RuntimeError, match="fail\\(\\) or finish\\(\\)"):
            await reply.decline()
        await reply.fail("changed its mind")
    assert setup.names().count("messageComplete") == 1
