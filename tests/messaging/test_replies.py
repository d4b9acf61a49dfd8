"""Reply watchers: on one node as before; with a relay, steps cross nodes and a late watch catches up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eliza_messaging.messaging.replies import ReplyEvent, ReplyWatchers
from eliza_messaging.records import Message

REPLY = Message(
    id="r1",
    channel_id="c1",
    author_id="agent",
    author_name="Eliza",
    content="Tell me more.",
    source_type="agent_response",
    created_at=2,
    updated_at=2,
    raw_message={"senderName": "Eliza"},
    in_reply_to_root_message_id="m1",
    metadata={"actions": ["REPLY"]},
)


class FakeRelay:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.receive: Callable[[dict[str, Any]], None] | None = None
        self.closed = False

    async def start(self, receive: Callable[[dict[str, Any]], None]) -> None:
        self.receive = receive

    def send(self, data: dict[str, Any]) -> None:
        self.sent.append(data)

    async def close(self) -> None:
        self.closed = True


async def test_without_a_relay_steps_stay_on_the_node() -> None:
    watchers = ReplyWatchers()
    await watchers.start()
    with watchers.watch("m1") as queue:
        watchers.notify(ReplyEvent("thinking", "agent", "c1", "m1", "r1"))
        watchers.notify(ReplyEvent("thinking", "agent", "c1", "other", "r2"))
        assert queue.steps.get_nowait().kind == "thinking" and queue.steps.empty()
    with watchers.watch("m1") as late:
        assert late.steps.empty()  # nothing kept for a late watch: on one node none can be late
        done = ReplyEvent("done", "agent", "c1", "m1")
        watchers.notify(done)  # positive control: what comes now does reach it
        assert late.steps.get_nowait() == done and late.steps.empty()
    await watchers.close()


async def test_with_a_relay_local_steps_arrive_at_once_and_go_to_the_other_nodes() -> None:
    relay = FakeRelay()
    watchers = ReplyWatchers(relay)
    await watchers.start()
    event = ReplyEvent("reply", "agent", "c1", "m1", "r1", "Tell me more.", message=REPLY)
    with watchers.watch("m1") as queue:
        watchers.notify(event)
        assert queue.steps.get_nowait() == event
    assert [ReplyEvent.from_json(d) for d in relay.sent] == [event]  # the record survives the trip whole
    await watchers.close()
    assert relay.closed


async def test_another_nodes_steps_reach_watchers_and_a_watch_that_opens_late() -> None:
    relay = FakeRelay()
    watchers = ReplyWatchers(relay)
    await watchers.start()
    assert relay.receive is not None
    steps = [
        ReplyEvent("thinking", "agent", "c1", "m1", "r1"),
        ReplyEvent("chunk", "agent", "c1", "m1", "r1", "Tell", 0),
        ReplyEvent("reply", "agent", "c1", "m1", "r1", "Tell me more.", message=REPLY),
        ReplyEvent("done", "agent", "c1", "m1"),
    ]
    with watchers.watch("m1") as early:
        relay.receive(steps[0].to_json())
        relay.receive({**steps[1].to_json(), "from_a_newer_version": True})
        relay.receive({"kind": "chunk"})  # unreadable: dropped, nothing breaks
        with watchers.watch("m1") as late:
            for step in steps[2:]:
                relay.receive(step.to_json())
            assert [late.steps.get_nowait() for _ in range(4)] == steps
        assert [early.steps.get_nowait() for _ in range(4)] == steps
    assert relay.sent == []  # what came from another node is not sent on


async def test_a_closed_watch_hears_nothing_more() -> None:
    watchers = ReplyWatchers()
    watch = watchers.watch("m1")
    watchers.notify(ReplyEvent("thinking", "agent", "c1", "m1", "r1"))
    watch.close()
    watch.close()  # again: harmless
    watchers.notify(ReplyEvent("done", "agent", "c1", "m1"))
    assert watch.steps.qsize() == 1 and not watchers._watchers
