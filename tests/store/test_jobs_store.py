"""The jobs table answers alike on SQLite and PostgreSQL: round trip, filters, counts, and the bounds'
deletions (retention by finish time, the oldest finished first), never touching jobs in progress."""

from __future__ import annotations

from dataclasses import replace

from eliza_messaging.records import Job
from eliza_messaging.store.base import Store
from tests.conftest import new_id


def job(status: str, *, at: int, user: str = "u1", finished_at: int | None = None) -> Job:
    return Job(
        id=new_id(),
        agent_id=new_id(),
        user_id=user,
        channel_id=new_id(),
        content="prompt \u00e9",
        status=status,
        created_at=at,
        expires_at=at + 30_000,
        finished_at=finished_at,
        metadata={"ticket": 7, "nested": {"x": [1, 2.5]}},
    )


async def test_a_job_round_trips_and_is_replaced_by_id(any_store: Store) -> None:
    first = job("pending", at=10)
    await any_store.save_job(first)
    assert await any_store.get_job(first.id) == first
    done = replace(
        first,
        status="completed",
        user_message_id=new_id(),
        result={"message": {"id": "r", "content": "hi", "metadata": {}}, "processingTimeMs": 5},
        finished_at=20,
    )
    await any_store.save_job(done)
    assert await any_store.get_job(first.id) == done
    assert await any_store.get_job(new_id()) is None


async def test_lists_and_counts_filter_by_status_and_user(any_store: Store) -> None:
    jobs = [
        job("completed", at=1, finished_at=2),
        job("processing", at=2),
        job("pending", at=3, user="u2"),
        job("timeout", at=4, user="u2", finished_at=5),
    ]
    for j in jobs:
        await any_store.save_job(j)
    assert [j.id for j in await any_store.list_jobs(limit=10)] == [j.id for j in reversed(jobs)]
    assert [j.id for j in await any_store.list_jobs(limit=2)] == [jobs[3].id, jobs[2].id]
    assert [j.id for j in await any_store.list_jobs(limit=10, user_id="u2")] == [jobs[3].id, jobs[2].id]
    assert [j.id for j in await any_store.list_jobs(limit=10, status="processing")] == [jobs[1].id]
    assert [j.id for j in await any_store.list_unfinished_jobs()] == [jobs[1].id, jobs[2].id]
    assert await any_store.job_counts() == {"completed": 1, "processing": 1, "pending": 1, "timeout": 1}
    assert await any_store.job_counts(user_id="u2") == {"pending": 1, "timeout": 1}
    assert await any_store.completed_job_average_ms() == 1.0


async def test_deletions_take_only_finished_jobs(any_store: Store) -> None:
    old_done = job("completed", at=1, finished_at=5)
    old_failed = job("failed", at=2, finished_at=6)
    recent = job("timeout", at=3, finished_at=50)
    running = job("processing", at=0)
    for j in (old_done, old_failed, recent, running):
        await any_store.save_job(j)
    assert await any_store.delete_jobs_finished_before(6) == 1  # only what finished before 6
    assert await any_store.get_job(old_done.id) is None
    assert await any_store.delete_oldest_finished_jobs(1) == 1
    assert await any_store.get_job(old_failed.id) is None
    assert await any_store.delete_oldest_finished_jobs(5) == 1  # the running one, the oldest, stays
    assert [j.id for j in await any_store.list_jobs(limit=10)] == [running.id]
    assert await any_store.delete_jobs_finished_before(10**12) == 0
