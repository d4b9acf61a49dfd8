"""The agent runtime against the real messaging service and SQLite store: every message it takes gets
exactly one outcome (``messageComplete``, input re-enabled when it was disabled), however it is cut short."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eliza_messaging.agents import runtime
from eliza_messaging.agents.character import character_from_dict
from eliza_messaging.agents.runtime import Agent, AgentOptions
from eliza_messaging.messaging.identity import Caller
from eliza_messaging.messaging.service import MessagingService
from eliza_messaging.models.base import GenerationRequest
from eliza_messaging.protocol.commands import SendMessage
from eliza_messaging.protocol.types import DEFAULT_SERVER_ID, Event
from eliza_messaging.queue.memory import InProcessQueue
from eliza_messaging.records import Channel, Message
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id
from tests.support.recording import RecordingFanout

CHARACTER = character_from_dict({"name": "Tess"})


class ScriptedModel:
    """Answers "slow ..." with one piece and then waits until cancelled; anything else at once."""

    name = "scripted"

    def __init__(self) -> None:
        self.should_respond_calls = 0

    async def should_respond(self, request: GenerationRequest) -> bool:
        self.should_respond_calls += 1
        await asyncio.sleep(0.2)  # deciding takes a while: a newer message can supersede meanwhile
        return True

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        text = request.turns[-1].content
        if text.startswith("slow"):
            yield "Let me"
            await asyncio.Event().wait()
        yield "You said: "
        yield text

    async def aclose(self) -> None:
        pass


@dataclass
class Room:
    service: MessagingService
    fanout: RecordingFanout
    store: SQLiteStore
    agent: Agent
    channel: Channel
    user: str

    async def say(self, text: str) -> tuple[Message, asyncio.Future[None]]:
        """Store a person's message in the channel and hand it to the agent, as the queue would."""
        sent = await self.service.send(
            SendMessage(
                channel_id=self.channel.id,
                server_id=DEFAULT_SERVER_ID,
                sender_id=self.user,
                sender_name="Pat",
                text=text,
                client_message_id=None,
                source="test",
                metadata=dict(self.channel.metadata),
            ),
            caller=Caller(entity_id=self.user),
        )
        finished = await self.agent.on_message(sent.message, sent.channel)
        assert finished is not None, "the agent should take part in this channel"
        return sent.message, finished

    def completes(self, trigger: Message) -> int:
        return sum(1 for e, d in self.fanout.events(Event.MESSAGE_COMPLETE) if d["inReplyTo"] == trigger.id)

    def controls(self) -> list[str]:
        return [d["action"] for _, d in self.fanout.events(Event.CONTROL_MESSAGE)]

    def reply_to(self, trigger: Message) -> str:
        """The id the agent gave its reply to ``trigger`` (from THINKING)."""
        for _, data in self.fanout.events(Event.MESSAGE):
            if data["payload"].get("inReplyTo") == trigger.id:
                return str(data["payload"]["messageId"])
        raise AssertionError(f"no THINKING for {trigger.content!r}")


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def room_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Room]]]:
    made: list[Room] = []

    async def make(kind: str = "dm", options: AgentOptions | None = None) -> Room:
        store = SQLiteStore(tmp_path / f"runtime-{len(made)}.sqlite3")
        await store.open()
        fanout = RecordingFanout()
        service = MessagingService(store, fanout, InProcessQueue())
        await service.start()
        agent = Agent(CHARACTER, ScriptedModel(), service, options)  # type: ignore[arg-type]
        user = new_id()
        metadata: dict[str, Any] = {"isDm": True, "targetUserId": agent.id} if kind == "dm" else {}
        channel = await service.channels.ensure(
            new_id(), server_id=DEFAULT_SERVER_ID, metadata=metadata, participant=user
        )
        if kind == "group":
            await service.channels.add_member(channel.id, agent.id)
        room = Room(service, fanout, store, agent, channel, user)
        made.append(room)
        return room

    yield make
    for room in made:
        await room.agent.close()
        await room.service.close()
        await room.store.close()


async def test_a_reply_ends_with_broadcast_enable_input_and_complete(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    room = await room_factory()
    trigger, finished = await room.say("hello")
    await asyncio.wait_for(finished, 5)
    reply_id = room.reply_to(trigger)
    assert room.fanout.about(reply_id) == [
        "message",  # THINKING
        "messageStreamChunk",
        "messageStreamChunk",
        "messageBroadcast",
    ]
    assert room.controls() == ["disable_input", "enable_input"]
    assert room.completes(trigger) == 1
    assert (await room.store.get_message(reply_id)) is not None


async def test_a_second_supersede_during_cleanup_still_re_enables_input_and_completes(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    """Bug (a): the first reply's cleanup was cut by a second cancel and skipped enable_input/messageComplete."""
    room = await room_factory()
    first, first_done = await room.say("slow one")
    await until(lambda: bool(room.fanout.events(Event.MESSAGE_STREAM_CHUNK)), "the first chunk")
    held = room.fanout.hold(lambda event, data: event == Event.MESSAGE_STREAM_ERROR)
    second, second_done = await room.say("quick two")  # supersedes the first: its cleanup starts
    await asyncio.wait_for(held.reached.wait(), 5)  # ... and is now sending the stream error
    third, third_done = await room.say("quick three")  # cancels the first reply's task again, mid-cleanup
    held.release()
    await asyncio.wait_for(asyncio.gather(first_done, second_done, third_done), 5)
    assert [room.completes(m) for m in (first, second, third)] == [1, 1, 1]
    # the second was still queued when the third came: superseded too, never started
    assert not thinking_for(room, second) and thinking_for(room, third)
    assert room.controls() == ["disable_input", "enable_input"] * 2  # never left disabled
    errors = room.fanout.events(Event.MESSAGE_STREAM_ERROR)
    assert [d["superseded"] for _, d in errors] == [True] and errors[0][1]["inReplyTo"] == first.id


async def test_a_cancel_after_the_reply_is_stored_never_reports_it_failed(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    """Bug (b): a supersede landing while the stored reply was broadcast sent messageStreamError and
    messageDeleted for a reply that is in history."""
    room = await room_factory()
    agent_id = room.agent.id
    held = room.fanout.hold(lambda event, data: event == Event.MESSAGE_BROADCAST and data["senderId"] == agent_id)
    first, first_done = await room.say("hello")
    await asyncio.wait_for(held.reached.wait(), 5)  # the reply is stored and being broadcast
    second, second_done = await room.say("and another thing")  # supersedes now
    await asyncio.sleep(0)  # let the cancel land on the held broadcast
    held.release()
    await asyncio.wait_for(asyncio.gather(first_done, second_done), 5)
    reply_id = room.reply_to(first)
    assert (await room.store.get_message(reply_id)) is not None  # it is in history ...
    assert Event.MESSAGE_STREAM_ERROR not in room.fanout.about(reply_id)  # ... so never reported failed
    assert Event.MESSAGE_DELETED not in room.fanout.about(reply_id)
    broadcasts = [d["id"] for _, d in room.fanout.events(Event.MESSAGE_BROADCAST) if d["senderId"] == agent_id]
    assert reply_id in broadcasts  # and the room heard it, as history has it
    assert [room.completes(m) for m in (first, second)] == [1, 1]
    assert room.controls() == ["disable_input", "enable_input"] * 2
    await until(lambda: not room.service.runs._open, "both runs to end")
    outcomes = {r.message_id: r.outcome for r in (await room.service.runs.page(Caller(), agent_id, limit=5)).runs}
    assert outcomes == {first.id: "replied", second.id: "replied"}  # its run says so too


async def test_a_failure_while_deciding_still_completes_the_message(
    room_factory: Callable[..., Awaitable[Room]], monkeypatch: pytest.MonkeyPatch
) -> None:
    room = await room_factory()

    async def broken(*args: object, **kwargs: object) -> list[Message]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(room.store, "list_messages", broken)
    trigger, finished = await room.say("hello")
    await asyncio.wait_for(finished, 5)
    assert room.completes(trigger) == 1  # no reply, but the message has its outcome
    assert room.controls() == []  # input was never disabled, so it is not re-enabled
    monkeypatch.undo()
    again, finished = await room.say("hello again")  # the lane survived
    await asyncio.wait_for(finished, 5)
    assert room.completes(again) == 1 and room.controls() == ["disable_input", "enable_input"]


async def test_superseded_while_deciding_completes_silently_and_idle_lanes_retire(
    room_factory: Callable[..., Awaitable[Room]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "LANE_IDLE_S", 0.3)
    room = await room_factory("group")
    first, first_done = await room.say("hello there")  # a group: the model is asked, which takes a while
    await asyncio.sleep(0.05)
    second, second_done = await room.say("Tess, hello")  # named: answers, and supersedes
    await asyncio.wait_for(asyncio.gather(first_done, second_done), 5)
    assert [room.completes(m) for m in (first, second)] == [1, 1]
    assert room.controls() == ["disable_input", "enable_input"]  # only the second took it
    assert not room.fanout.events(Event.MESSAGE_STREAM_ERROR)
    lane = lane_tasks(room)
    assert len(lane) == 1 and not lane[0].done()  # the channel's lane waits for more
    await asyncio.wait_for(lane[0], 2)  # retired after being idle: its task ends on its own
    assert lane_tasks(room) == []
    third, third_done = await room.say("Tess, again")
    assert len(lane_tasks(room)) == 1  # made again for the next message
    await asyncio.wait_for(third_done, 5)
    assert room.completes(third) == 1


def lane_tasks(room: Room) -> list[asyncio.Task[object]]:
    """The running tasks of the agent's lane in the room's channel, seen from outside as a leak check would."""
    name = f"agent {room.agent.name} {room.channel.id}"
    return [t for t in asyncio.all_tasks() if t.get_name() == name and not t.done()]


def thinking_for(room: Room, trigger: Message) -> bool:
    return any(d["payload"].get("inReplyTo") == trigger.id for _, d in room.fanout.events(Event.MESSAGE))


async def test_a_persons_newer_message_supersedes_the_queued_ones_too(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    room = await room_factory("group")
    first, first_done = await room.say("slow, anyone?")  # the model decides to answer, then hangs
    await until(lambda: thinking_for(room, first), "the first reply to start")
    waiting = [await room.say(f"and also {n}") for n in range(3)]  # queued behind it: only the model can tell
    assert not any(done.done() for _, done in waiting)
    latest, latest_done = await room.say("Tess, what do you think?")  # names the agent: it will answer
    await asyncio.wait_for(latest_done, 5)
    for trigger, done in waiting:
        await asyncio.wait_for(done, 5)
        assert not thinking_for(room, trigger), f"{trigger.content!r} was answered after a newer message"
        assert room.completes(trigger) == 1
    await asyncio.wait_for(first_done, 5)
    assert room.completes(first) == 1
    assert thinking_for(room, latest) and room.completes(latest) == 1  # the positive control: it was answered
    assert room.controls().count("disable_input") == room.controls().count("enable_input")


async def test_a_full_lane_drops_its_oldest_queued_message_with_an_outcome(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    room = await room_factory("group", AgentOptions(max_queued=2))
    first, _ = await room.say("slow, anyone?")
    await until(lambda: thinking_for(room, first), "the first reply to start")
    queued = [await room.say(f"and also {n}") for n in range(3)]  # one more than the lane holds
    oldest, oldest_done = queued[0]
    await asyncio.wait_for(oldest_done, 5)
    assert room.completes(oldest) == 1 and not thinking_for(room, oldest)
    assert not queued[1][1].done() and not queued[2][1].done()  # the newer two still wait their turn


async def test_an_agent_declines_a_channel_beyond_its_lanes(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    room = await room_factory("dm", AgentOptions(max_lanes=1))
    first, _ = await room.say("slow, are you there?")
    await until(lambda: thinking_for(room, first), "the first reply to start")
    other = await room.service.channels.ensure(
        new_id(),
        server_id=DEFAULT_SERVER_ID,
        metadata={"isDm": True, "targetUserId": room.agent.id},
        participant=room.user,
    )
    elsewhere = await room.service.send(
        SendMessage(
            channel_id=other.id,
            server_id=DEFAULT_SERVER_ID,
            sender_id=room.user,
            sender_name="Pat",
            text="hello over here",
            client_message_id=None,
            source="test",
            metadata=dict(other.metadata),
        ),
        caller=Caller(entity_id=room.user),
    )
    done = await room.agent.on_message(elsewhere.message, elsewhere.channel)
    assert done is not None
    await asyncio.wait_for(done, 5)
    completes = [d for _, d in room.fanout.events(Event.MESSAGE_COMPLETE) if d["inReplyTo"] == elsewhere.message.id]
    assert len(completes) == 1 and not thinking_for(room, elsewhere.message)


async def test_a_redelivered_message_already_answered_is_not_answered_again(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    """A node that stored its reply and died before acknowledging the message: the queue hands the
    message to another node's agent, which finds the stored reply and stays silent."""
    room = await room_factory()
    trigger, finished = await room.say("hello")
    await asyncio.wait_for(finished, 5)
    again = await room.agent.on_message(trigger, room.channel, redelivered=True)  # the queue's redelivery
    assert again is not None
    await asyncio.wait_for(again, 5)
    control, control_done = await room.say("and now?")  # positive control: a new message is answered
    await asyncio.wait_for(control_done, 5)
    stored = await room.store.list_messages(room.channel.id, limit=50)
    replies = [m.in_reply_to_root_message_id for m in stored if m.author_id == room.agent.id]
    assert sorted(r or "" for r in replies) == sorted([trigger.id, control.id])
    # the redelivery ends with an outcome again (the dead node may have died before sending its own)
    assert (room.completes(trigger), room.completes(control)) == (2, 1)


# runs: what the agent did with each message, recorded for ElizaOS's timeline and model-call views ----


async def runs_of(room: Room) -> list[Any]:
    page = await room.service.runs.page(Caller(), room.agent.id, limit=10)
    return page.runs


async def test_a_reply_is_recorded_as_a_completed_run_with_its_model_call(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    room = await room_factory()
    trigger, done = await room.say("hello there")
    await done
    await until(lambda: not room.service.runs._open, "the run to end")
    [run] = await runs_of(room)
    assert (run.status, run.outcome, run.message_id, run.channel_id, run.entity_id) == (
        "completed", "replied", trigger.id, room.channel.id, room.user
    )  # fmt: skip
    assert run.model_calls == 1 and run.errors == 0 and run.ended_at >= run.started_at
    [call] = run.calls
    assert (call.kind, call.model, call.outcome) == ("TEXT_SMALL", "scripted", "ok")
    assert call.prompt_chars >= len("hello there") and call.response_chars == len("You said: hello there")
    stored = await room.store.get_agent_run(room.agent.id, run.id)
    assert stored == run
    [reply] = [m for m in await room.service.history(room.channel.id, limit=5) if m.author_id == room.agent.id]
    assert reply.metadata["thought"] == "Pat wrote to me directly, so I answer."
    assert reply.metadata["actions"] == ["REPLY"] and reply.raw_message["thought"] == reply.metadata["thought"]
    assert reply.metadata["runId"] == run.id


async def test_a_run_in_progress_is_listed_as_started_then_a_superseded_one_as_an_error(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    room = await room_factory()
    first, first_done = await room.say("slow one")
    await until(lambda: any(r.run.model_calls == 0 for r in room.service.runs._open.values()), "the first run")
    [started] = await runs_of(room)
    assert started.status == "started" and started.message_id == first.id and started.ended_at is None
    second, second_done = await room.say("second")
    await asyncio.gather(first_done, second_done)
    await until(lambda: not room.service.runs._open, "both runs to end")
    newest, oldest = await runs_of(room)
    assert (newest.message_id, newest.status, newest.outcome) == (second.id, "completed", "replied")
    assert (oldest.message_id, oldest.status, oldest.outcome) == (first.id, "error", "superseded")
    assert [c.outcome for c in oldest.calls] == ["cancelled"] and oldest.errors == 1


async def test_a_timed_out_reply_is_a_timeout_run(room_factory: Callable[..., Awaitable[Room]]) -> None:
    room = await room_factory(options=AgentOptions(timeout_s=0.3))
    _, done = await room.say("slow to answer")
    await done
    await until(lambda: not room.service.runs._open, "the run to end")
    [run] = await runs_of(room)
    assert (run.status, run.outcome) == ("timeout", "timeout") and "0.3 s" in (run.error or "")
    assert [c.outcome for c in run.calls] == ["timeout"] and run.errors == 1


async def test_asking_the_model_whether_to_answer_is_a_model_call_of_the_run(
    room_factory: Callable[..., Awaitable[Room]],
) -> None:
    room = await room_factory("group")
    _, done = await room.say("anyone around?")
    await done
    await until(lambda: not room.service.runs._open, "the run to end")
    [run] = await runs_of(room)
    assert [c.kind for c in run.calls] == ["TEXT_SMALL", "TEXT_SMALL"] and run.model_calls == 2
    assert run.calls[0].response_chars == 0 and run.outcome == "replied"
    [reply] = [m for m in await room.service.history(room.channel.id, limit=5) if m.author_id == room.agent.id]
    assert "my model judged" in reply.metadata["thought"]
