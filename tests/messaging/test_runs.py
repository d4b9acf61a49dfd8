"""Runs as messaging keeps them: data isolation on who sees them, and the bounds on what one run and one node hold."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eliza_messaging.messaging import runs
from eliza_messaging.messaging.identity import Caller
from eliza_messaging.messaging.service import MessagingService
from eliza_messaging.protocol.types import DEFAULT_SERVER_ID
from eliza_messaging.queue.memory import InProcessQueue
from eliza_messaging.records import Channel, Message
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id
from tests.support.recording import RecordingFanout

AGENT = new_id()


async def make_service(path: Path, *, isolation: bool) -> MessagingService:
    store = SQLiteStore(path)
    await store.open()
    service = MessagingService(store, RecordingFanout(), InProcessQueue(), isolation=isolation)  # type: ignore[arg-type]
    await service.start()
    return service


@pytest.fixture
async def isolated(tmp_path: Path) -> AsyncIterator[MessagingService]:
    service = await make_service(tmp_path / "isolated.sqlite3", isolation=True)
    yield service
    await service.close()
    await service.store.close()


@pytest.fixture
async def open_service(tmp_path: Path) -> AsyncIterator[MessagingService]:
    service = await make_service(tmp_path / "open.sqlite3", isolation=False)
    yield service
    await service.close()
    await service.store.close()


def trigger(channel: Channel, author: str) -> Message:
    return Message(new_id(), channel.id, author, "Pat", "hello", "test", 1, 1)


async def test_with_isolation_a_caller_sees_only_the_runs_of_its_channels(isolated: MessagingService) -> None:
    member, outsider = new_id(), new_id()
    channel = await isolated.channels.ensure(new_id(), server_id=DEFAULT_SERVER_ID, metadata={}, participant=member)
    recorder = isolated.runs.start(AGENT, trigger(channel, member), channel)
    await recorder.end("replied")
    assert [r.id for r in (await isolated.runs.page(Caller(entity_id=member), AGENT, limit=5)).runs] == [recorder.id]
    hidden = await isolated.runs.page(Caller(entity_id=outsider), AGENT, limit=5)
    assert hidden.runs == [] and hidden.total == 0
    assert await isolated.runs.get(Caller(entity_id=outsider), AGENT, recorder.id) is None
    assert await isolated.runs.get(Caller(trusted=True), AGENT, recorder.id) is not None
    assert (await isolated.runs.page(Caller(), AGENT, limit=5)).runs == []  # anonymous: nothing


async def test_a_run_details_its_first_calls_and_counts_them_all(open_service: MessagingService) -> None:
    channel = await open_service.channels.ensure(new_id(), server_id=DEFAULT_SERVER_ID, metadata={}, participant=None)
    recorder = open_service.runs.start(AGENT, trigger(channel, new_id()), channel)
    for i in range(runs.MAX_CALLS_DETAILED + 4):
        recorder.model_call(
            "TEXT_SMALL",
            "m",
            started=time.monotonic(),
            prompt_chars=i,
            response_chars=0,
            outcome="ok" if i else "error",
        )
    await recorder.end("replied")
    await recorder.end("failed")  # a second end changes nothing
    stored = await open_service.store.get_agent_run(AGENT, recorder.id)
    assert stored is not None and stored.outcome == "replied"
    assert len(stored.calls) == runs.MAX_CALLS_DETAILED and stored.model_calls == runs.MAX_CALLS_DETAILED + 4
    assert [c.prompt_chars for c in stored.calls] == list(range(runs.MAX_CALLS_DETAILED)) and stored.errors == 1


async def test_runs_in_progress_held_on_a_node_are_bounded(
    open_service: MessagingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "MAX_IN_PROGRESS", 2)
    channel = await open_service.channels.ensure(new_id(), server_id=DEFAULT_SERVER_ID, metadata={}, participant=None)
    started = [open_service.runs.start(AGENT, trigger(channel, new_id()), channel) for _ in range(3)]
    listed = await open_service.runs.page(Caller(), AGENT, limit=10)
    assert len(listed.runs) == 2 and {r.status for r in listed.runs} == {"started"}  # the third is not held
    for recorder in started:
        await recorder.end("ignored")
    ended = await open_service.runs.page(Caller(), AGENT, limit=10)
    assert sorted(r.id for r in ended.runs) == sorted(r.id for r in started)  # all three stored once ended
    assert {r.status for r in ended.runs} == {"completed"}
