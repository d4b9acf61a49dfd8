"""Agent runs in the store, on SQLite and PostgreSQL alike: round trip, newest first, filters, the bound per agent."""

from __future__ import annotations

from dataclasses import replace

from eliza_messaging.records import AgentRun, ModelCall
from eliza_messaging.store.base import Store
from tests.conftest import new_id


def run(agent: str, started_at: int, *, channel: str | None = None, status: str = "completed") -> AgentRun:
    return AgentRun(
        id=new_id(),
        agent_id=agent,
        message_id=new_id(),
        channel_id=channel or new_id(),
        entity_id=new_id(),
        started_at=started_at,
        status=status,
        ended_at=started_at + 40,
        outcome="replied",
        model_calls=2,
        errors=1,
        calls=(
            ModelCall(new_id(), "TEXT_SMALL", "eliza", started_at + 1, 5, 120, 0, "ok"),
            ModelCall(new_id(), "TEXT_LARGE", "gpt", started_at + 7, 30, 400, 0, "timeout"),
        ),
    )


async def test_a_run_round_trips_with_its_model_calls(any_store: Store) -> None:
    agent = new_id()
    saved = run(agent, 1_000)
    await any_store.save_agent_run(saved, keep=10)
    assert await any_store.get_agent_run(agent, saved.id) == saved
    assert await any_store.get_agent_run(new_id(), saved.id) is None  # another agent's id does not find it
    ended = replace(saved, status="error", error="boom", outcome="failed", calls=())
    await any_store.save_agent_run(ended, keep=10)  # saving again replaces
    assert await any_store.get_agent_run(agent, saved.id) == ended


async def test_runs_are_listed_newest_first_with_filters_and_a_total(any_store: Store) -> None:
    agent, room = new_id(), new_id()
    runs = [run(agent, 1_000 + i, channel=room if i % 2 else None, status="error" if i == 3 else "completed")
            for i in range(6)]  # fmt: skip
    for r in runs:
        await any_store.save_agent_run(r, keep=100)
    await any_store.save_agent_run(run(new_id(), 5_000), keep=100)  # another agent's

    page, total = await any_store.list_agent_runs(agent, limit=4)
    assert [r.id for r in page] == [r.id for r in reversed(runs)][:4] and total == 6
    in_room, total = await any_store.list_agent_runs(agent, limit=10, channel_id=room)
    assert [r.started_at for r in in_room] == [1_005, 1_003, 1_001] and total == 3
    failed, total = await any_store.list_agent_runs(agent, limit=10, status="error")
    assert [r.id for r in failed] == [runs[3].id] and total == 1


async def test_each_agent_keeps_only_its_newest_runs(any_store: Store) -> None:
    agent, other = new_id(), new_id()
    mine = [run(agent, 1_000 + i) for i in range(5)]
    await any_store.save_agent_run(run(other, 1), keep=3)
    for r in mine:
        await any_store.save_agent_run(r, keep=3)
    kept, total = await any_store.list_agent_runs(agent, limit=10)
    assert [r.id for r in kept] == [r.id for r in reversed(mine[2:])] and total == 3
    assert await any_store.get_agent_run(agent, mine[0].id) is None
    assert (await any_store.list_agent_runs(other, limit=10))[1] == 1  # the bound is per agent
