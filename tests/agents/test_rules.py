"""Who answers what, the character file, and the context a model reads."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eliza_messaging.agents import runtime
from eliza_messaging.agents.character import CharacterError, character_from_dict, default_character, load_character
from eliza_messaging.agents.context import build_request
from eliza_messaging.agents.decision import Verdict, names, takes_part, verdict
from eliza_messaging.records import Channel, Message
from tests.conftest import new_id

AGENT = default_character()


def channel(kind: str = "GROUP", **metadata: object) -> Channel:
    return Channel(id=new_id(), message_server_id="0", name="c", type=kind, metadata=dict(metadata))


def message(
    text: str,
    *,
    author: str | None = None,
    source: str = "test",
    depth: int | None = None,
    reply_to: str | None = None,
    at: int = 1,
) -> Message:
    meta = {"replyDepth": depth} if depth is not None else {}
    return Message(
        id=new_id(),
        channel_id="c",
        author_id=author or new_id(),
        author_name="Pat",
        content=text,
        source_type=source,
        created_at=at,
        updated_at=at,
        metadata=meta,
        in_reply_to_root_message_id=reply_to,
    )


def decide(ch: Channel, msg: Message, replied_to_author: str | None = None) -> Verdict:
    return verdict(
        agent_id=AGENT.id,
        agent_name=AGENT.name,
        channel=ch,
        message=msg,
        replied_to_author=replied_to_author,
        max_agent_chain=2,
    )


def test_the_same_name_gives_the_same_agent_id() -> None:
    assert character_from_dict({"name": "Eliza"}).id == AGENT.id
    assert character_from_dict({"name": "Other"}).id != AGENT.id


@pytest.mark.parametrize(
    ("text", "named"),
    [("Eliza, hi", True), ("hey @eliza", True), ("elizabeth", False), ("no one", False), ("ask ELIZA.", True)],
)
def test_naming_is_a_whole_word(text: str, named: bool) -> None:
    assert names(text, "Eliza") is named


def test_dm_and_agent_room_always_answered_group_asks_the_model() -> None:
    assert decide(channel("DM"), message("hi")) is Verdict.ANSWER
    assert decide(channel("API"), message("hi")) is Verdict.ANSWER
    assert decide(channel(sessionId="s"), message("hi")) is Verdict.ANSWER
    assert decide(channel(), message("hi")) is Verdict.ASK_MODEL
    assert decide(channel(), message("hi Eliza")) is Verdict.ANSWER
    assert decide(channel(), message("ok"), replied_to_author=AGENT.id) is Verdict.ANSWER


def test_never_itself_and_agent_chains_are_bounded() -> None:
    assert decide(channel("DM"), message("hi", author=AGENT.id)) is Verdict.IGNORE
    assert decide(channel("DM"), message("hi", source="agent_response", depth=1)) is Verdict.ANSWER
    assert decide(channel("DM"), message("hi", source="agent_response", depth=2)) is Verdict.IGNORE
    assert decide(channel(), message("hi", source="agent_response", depth=1)) is Verdict.IGNORE


def test_taking_part() -> None:
    msg = message("hi")
    assert takes_part(AGENT.id, channel(), msg, [AGENT.id])
    assert takes_part(AGENT.id, channel("DM", targetUserId=AGENT.id), msg, [])
    assert not takes_part(AGENT.id, channel("DM", targetUserId=new_id()), msg, [])
    own_room = Channel(id=AGENT.id, message_server_id="0", name="c", type="GROUP")
    assert takes_part(AGENT.id, own_room, msg, [])


def test_context_is_oldest_first_and_ends_with_the_trigger() -> None:
    history = [message(f"m{i}", at=i) for i in range(5)]
    mine = message("agent said", author=AGENT.id, at=5)
    trigger = message("latest", at=6)
    newest_first = [trigger, mine, *reversed(history)]
    request = build_request(AGENT, newest_first, trigger, timeout_s=5)
    assert request.turns[0].role == "system" and "Rogerian" in request.turns[0].content
    assert [t.content for t in request.turns[1:]] == ["m0", "m1", "m2", "m3", "m4", "agent said", "latest"]
    assert request.turns[-2].role == "assistant" and request.agent_name == "Eliza"


def test_character_files_are_checked_with_clear_errors(tmp_path: Path) -> None:
    good = tmp_path / "a.json"
    good.write_text(json.dumps({"name": "Ada", "bio": "likes maths", "settings": {"secrets": {"API_KEY": "x"}}}))
    ada = load_character(good)
    assert ada.bio == ("likes maths",) and ada.setting("api_key") == "x"
    bad = tmp_path / "b.json"
    bad.write_text("{not json")
    with pytest.raises(CharacterError, match="not valid JSON"):
        load_character(bad)
    with pytest.raises(CharacterError, match="'name' is missing"):
        character_from_dict({"bio": []})
    with pytest.raises(CharacterError, match="no such character file"):
        load_character(tmp_path / "missing.json")


class _Recorder:
    """Just enough of MessagingService for the runtime's lane logic, recording what the room would see."""

    def __init__(self, store: object) -> None:
        self.store = store
        self.events: list[tuple[str, str]] = []

    async def begin_reply(self, agent_id: str, channel: Channel, trigger: Message, reply_id: str) -> None:
        self.events.append(("begin", trigger.content))

    async def reply_chunk(self, *args: object) -> None:
        pass

    async def finish_reply(self, *, trigger: Message, **_: object) -> None:
        self.events.append(("reply", trigger.content))

    async def fail_reply(self, agent_id: str, channel: Channel, trigger: Message, *args: object, **kw: object) -> None:
        self.events.append(("failed", trigger.content))

    async def end_reply(self, agent_id: str, channel: Channel, trigger: Message, *, took_it: bool) -> None:
        self.events.append(("end" if took_it else "end-silent", trigger.content))


class _SlowDecider:
    """A model that takes its time deciding (group channel), then answers in one piece."""

    name = "slow"

    async def should_respond(self, request: object) -> bool:
        await asyncio.sleep(0.2)
        return True

    async def stream(self, request: object) -> AsyncIterator[str]:
        yield "ok"

    async def aclose(self) -> None:
        pass


class _Store:
    async def list_participants(self, channel_id: str) -> list[str]:
        return [AGENT.id]

    async def list_messages(self, channel_id: str, **_: object) -> list[Message]:
        return []

    async def get_message(self, message_id: str) -> None:
        return None


async def test_superseded_before_answering_still_completes_and_idle_lanes_retire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runtime, "LANE_IDLE_S", 0.3)
    recorder = _Recorder(_Store())
    agent = runtime.Agent(AGENT, _SlowDecider(), recorder)  # type: ignore[arg-type]
    group = channel()
    first = await agent.on_message(message("hello there", at=1), group)
    await asyncio.sleep(0.05)  # the first is still deciding
    second = await agent.on_message(message("Eliza, hello", at=2), group)  # named: supersedes
    assert first is not None and second is not None
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert recorder.events == [
        ("end-silent", "hello there"),
        ("begin", "Eliza, hello"),
        ("reply", "Eliza, hello"),
        ("end", "Eliza, hello"),
    ]
    lane = lane_tasks(agent, group)
    assert len(lane) == 1 and not lane[0].done()  # the channel's lane is waiting for more
    await asyncio.wait_for(lane[0], 2)  # retired after being idle: its task ends on its own
    assert lane_tasks(agent, group) == []
    third = await agent.on_message(message("Eliza, again", at=3), group)
    assert third is not None
    assert len(lane_tasks(agent, group)) == 1  # made again for the next message
    await asyncio.wait_for(third, 5)
    assert recorder.events[-1] == ("end", "Eliza, again")
    await agent.close()
    assert lane_tasks(agent, group) == []


def lane_tasks(agent: runtime.Agent, ch: Channel) -> list[asyncio.Task[object]]:
    """The running tasks of the agent's lane in ``ch``: seen from outside, as a leak check would see them."""
    return [t for t in asyncio.all_tasks() if t.get_name() == f"agent {agent.name} {ch.id}" and not t.done()]
