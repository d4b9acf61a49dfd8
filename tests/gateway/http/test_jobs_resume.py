"""Jobs left pending or processing by a stop are resumed on the next start (the real app, its lifespan
and a real SQLite file reopened): finished from a reply stored meanwhile, timed out saying why, or
failed when the prompt was never sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio

from eliza_messaging.protocol.types import DEFAULT_SERVER_ID
from eliza_messaging.records import Job, Message
from eliza_messaging.store.sqlite import SQLiteStore
from tests.conftest import new_id
from tests.gateway.http.conftest import App, FakeAgent, running

JOBS = "/api/messaging/jobs"


async def silent_agent(app: App) -> FakeAgent:
    agent = FakeAgent(new_id(), app.messaging, behaviour="hang")
    await app.messaging.store.add_server_agent(DEFAULT_SERVER_ID, agent.id)
    app.messaging.queue.subscribe(f"fake:{agent.id}", agent.on_message)
    return agent


async def stored(data_dir: Path, change: Callable[[SQLiteStore], Awaitable[None]]) -> None:
    """Change the stored data while no server runs (as another node would have)."""
    store = SQLiteStore(data_dir / "messaging.sqlite3")
    await store.open()
    try:
        await change(store)
    finally:
        await store.close()


async def test_a_reply_stored_while_stopped_completes_the_job(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(data) as app:
        agent = await silent_agent(app)
        created = await app.client.post(
            JOBS, json={"userId": new_id(), "content": "are you there?", "agentId": agent.id}
        )
        job_id = created.json()["jobId"]
        job = (await app.client.get(f"{JOBS}/{job_id}")).json()
        assert job["status"] == "processing"
        assert [m.content for m in agent.seen] == ["are you there?"]  # the prompt reached the agent's channel
    channel = (await _job(data, job_id)).channel_id

    async def reply(store: SQLiteStore) -> None:
        await store.append_message(
            Message(
                id=new_id(),
                channel_id=channel,
                author_id=agent.id,
                author_name="Fake",
                content="I am here.",
                source_type="agent_response",
                created_at=job["createdAt"] + 500,
                updated_at=job["createdAt"] + 500,
            )
        )

    await stored(data, reply)
    async with running(data) as app:
        done = (await app.client.get(f"{JOBS}/{job_id}")).json()
    assert done["status"] == "completed", done
    assert done["result"]["message"]["content"] == "I am here." and done["result"]["processingTimeMs"] == 500


async def test_a_job_whose_time_ran_out_while_stopped_times_out_saying_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with running(data) as app:
        agent = await silent_agent(app)
        created = await app.client.post(
            JOBS, json={"userId": new_id(), "content": "hello", "agentId": agent.id, "timeoutMs": 1000}
        )
        job_id = created.json()["jobId"]
    await anyio.sleep(1.1)
    async with running(data) as app:
        job = (await app.client.get(f"{JOBS}/{job_id}")).json()
    assert job["status"] == "timeout" and "server restarted" in job["error"]


async def test_a_job_stopped_before_its_prompt_was_sent_fails_saying_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    job = Job(
        id=new_id(),
        agent_id=new_id(),
        user_id=new_id(),
        channel_id=new_id(),
        content="hi",
        status="pending",
        created_at=1,
        expires_at=2,
    )

    async def pending(store: SQLiteStore) -> None:
        await store.save_job(job)

    await stored(data, pending)
    async with running(data) as app:
        found = (await app.client.get(f"{JOBS}/{job.id}")).json()
    assert found["status"] == "failed" and "before the prompt was sent" in found["error"]


async def _job(data_dir: Path, job_id: str) -> Job:
    found: list[Job] = []

    async def read(store: SQLiteStore) -> None:
        job = await store.get_job(job_id)
        assert job is not None
        found.append(job)

    await stored(data_dir, read)
    return found[0]
