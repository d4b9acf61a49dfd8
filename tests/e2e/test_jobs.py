"""The Jobs API on a real server, on SQLite and PostgreSQL: a one-off prompt to Eliza completes and is
still readable after a restart; a job cut by a crash is resumed and ends with a clear reason; the
bounds (timeouts, jobs in progress per user, jobs stored) hold at their limits; who may see what.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agents.test_agents_e2e import character_files
from tests.conftest import new_id
from tests.store.conftest import postgres_schema, postgres_url
from tests.support import tokens
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ServerProcess

JOBS = "/api/messaging/jobs"
SECRET = "a-jobs-secret-that-is-long-enough-for-hs256!"
SERVER_TOKEN = "server-token-for-jobs-tests"
FINISHED = ("completed", "failed", "timeout")

Start = Callable[..., ServerProcess]


@pytest.fixture(params=["sqlite", "postgres"])
async def start(request: pytest.FixtureRequest, server_factory: Start) -> AsyncIterator[Start]:
    """Start a server on the backend under test (``env`` added); its data lives on across restarts."""
    if request.param == "sqlite":
        yield server_factory
        return
    started: list[ServerProcess] = []
    async with postgres_schema() as schema:

        def make(env: dict[str, str] | None = None) -> ServerProcess:
            proc = server_factory({**(env or {}), "POSTGRES_URL": postgres_url(schema)})
            started.append(proc)
            return proc

        yield make
        for proc in started:
            proc.stop()  # before the schema is dropped


def create(server: ServerProcess, **body: Any) -> httpx.Response:
    return httpx.post(f"{server.url}{JOBS}", json={"userId": new_id(), "content": "I feel sad today", **body})


async def until_finished(server: ServerProcess, job_id: str, timeout: float = 20.0, **kw: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = httpx.get(f"{server.url}{JOBS}/{job_id}", **kw).json()
        if job.get("status") in FINISHED or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.1)


def stuck_agent(fake: FakeOpenAI, tmp_path: Path) -> dict[str, str]:
    """Settings for a server whose only agent waits on ``fake`` (which never answers in "hang" mode)."""
    settings = {"model_provider": "openai", "OPENAI_BASE_URL": fake.base_url, "max_retries": "0"}
    character = {"name": "Stuck", "settings": {**settings, "timeout": "120", "stall_timeout": "120"}}
    return {"ELIZA_CHARACTERS": character_files(tmp_path, character), "ELIZA_AGENT_TIMEOUT": "120"}


async def test_a_job_to_eliza_completes_and_is_still_readable_after_a_restart(start: Start) -> None:
    server = start()
    created = create(server, metadata={"ticket": 7})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"jobId", "status", "createdAt", "expiresAt"}  # ElizaOS's CreateJobResponse
    assert body["status"] in ("pending", "processing")
    assert body["expiresAt"] - body["createdAt"] == 30_000  # the default timeout
    job = await until_finished(server, body["jobId"])
    assert job["status"] == "completed", job
    eliza = job["agentId"]
    assert job["prompt"] == "I feel sad today" and job["metadata"] == {"ticket": 7}
    reply = job["result"]["message"]
    assert reply["authorId"] == eliza and reply["content"]
    assert "sad" in reply["content"].lower() or "?" in reply["content"]
    assert job["result"]["processingTimeMs"] >= 0 and "error" not in job

    server.restart()
    again = httpx.get(f"{server.url}{JOBS}/{body['jobId']}").json()
    assert again == job
    listed = httpx.get(f"{server.url}{JOBS}", params={"userId": job["userId"]}).json()
    assert listed["total"] == 1 and listed["filtered"] == 1 and listed["jobs"] == [job]
    health = httpx.get(f"{server.url}{JOBS}/health").json()
    assert health["healthy"] is True and health["totalJobs"] == 1
    assert health["statusCounts"] == {"pending": 0, "processing": 0, "completed": 1, "failed": 0, "timeout": 0}
    assert health["metrics"]["successRate"] == 1.0 and health["maxJobs"] == 10_000
    # the agent may be named; the prompt went through the channel like any message
    named = create(server, agentId=eliza, content="Hello")
    assert (await until_finished(server, named.json()["jobId"]))["status"] == "completed"


async def test_a_job_cut_by_a_crash_is_resumed_and_ends_saying_why(start: Start, tmp_path: Path) -> None:
    with FakeOpenAI(mode="hang") as fake:
        server = start(stuck_agent(fake, tmp_path))
        created = create(server, timeoutMs=25_000).json()
        job_id = created["jobId"]
        for _ in range(200):  # the agent is at work on it
            if fake.chat_requests:
                break
            await asyncio.sleep(0.05)
        assert fake.chat_requests
        server.kill()
        server.start(timeout=60)  # a loaded machine may take a while
        resumed = httpx.get(f"{server.url}{JOBS}/{job_id}").json()
        if time.time() * 1000 < created["expiresAt"] - 1000:
            assert resumed["status"] == "processing"  # waited for again, for the time it has left
        job = await until_finished(server, job_id, timeout=40)
    assert job["status"] == "timeout", job
    assert "timed out" in job["error"] and "restarted" in job["error"]
    assert job["expiresAt"] == created["expiresAt"]


async def test_a_job_with_no_answer_in_time_times_out(server_factory: Start, tmp_path: Path) -> None:
    with FakeOpenAI(mode="hang") as fake:
        server = server_factory(stuck_agent(fake, tmp_path))
        started = time.monotonic()
        created = create(server, timeoutMs=1000).json()
        job = await until_finished(server, created["jobId"], timeout=10)
        assert job["status"] == "timeout" and job["error"] == "Job timed out waiting for agent response"
        assert time.monotonic() - started < 8
        assert "result" not in job


def test_timeouts_are_checked_at_their_bounds(server: ServerProcess) -> None:
    for timeout, status in ((999, 400), (1000, 201), (300_000, 201), (300_001, 400), ("soon", 400), (True, 400)):
        answer = create(server, timeoutMs=timeout)
        assert answer.status_code == status, (timeout, answer.text)
        if status == 201:
            body = answer.json()
            assert body["expiresAt"] - body["createdAt"] == timeout
        else:
            error = answer.json()
            assert error["success"] is False and isinstance(error["error"], str)  # ElizaOS's error shape
            assert "timeoutMs" in error["error"]


def test_bad_requests_get_elizaos_errors_naming_every_field(server: ServerProcess) -> None:
    answer = httpx.post(f"{server.url}{JOBS}", json={"userId": "me", "content": "", "agentId": "eliza"})
    assert answer.status_code == 400
    error = answer.json()
    assert error["success"] is False and error["code"] == "INVALID_PAYLOAD"
    assert error["fields"] == ["agentId", "userId", "content"]
    unknown = create(server, agentId=new_id())
    assert unknown.status_code == 404 and "not found" in unknown.json()["error"]
    missing = httpx.get(f"{server.url}{JOBS}/{new_id()}")
    assert missing.status_code == 404 and missing.json() == {
        "success": False,
        "error": "Job not found",
        "code": "NOT_FOUND",
        "field": "jobId",
    }
    assert httpx.get(f"{server.url}{JOBS}/not-a-job").status_code == 404
    too_long = create(server, content="x" * 50_001)
    assert too_long.status_code == 400 and "50000" in too_long.json()["error"]
    assert create(server, content="x" * 50_000).status_code == 201


async def test_jobs_in_progress_per_user_are_bounded(server_factory: Start, tmp_path: Path) -> None:
    with FakeOpenAI(mode="hang") as fake:
        server = server_factory({**stuck_agent(fake, tmp_path), "ELIZA_JOB_MAX_ACTIVE": "2"})
        me = new_id()
        assert [create(server, userId=me).status_code for _ in range(2)] == [201, 201]
        refused = create(server, userId=me)
        assert refused.status_code == 429
        assert refused.json()["code"] == "TOO_MANY_JOBS" and "2 jobs in progress" in refused.json()["error"]
        assert create(server, userId=new_id()).status_code == 201  # someone else still may


async def test_jobs_stored_are_bounded_the_oldest_finished_going_first(server_factory: Start) -> None:
    server = server_factory({"ELIZA_JOB_MAX_STORED": "3"})
    ids = []
    for _ in range(3):
        ids.append(create(server).json()["jobId"])
        assert (await until_finished(server, ids[-1]))["status"] == "completed"
    assert httpx.get(f"{server.url}{JOBS}/health").json()["totalJobs"] == 3
    ids.append(create(server).json()["jobId"])
    health = httpx.get(f"{server.url}{JOBS}/health").json()
    assert health["totalJobs"] == 3 and health["maxJobs"] == 3
    assert httpx.get(f"{server.url}{JOBS}/{ids[0]}").status_code == 404  # the oldest made room
    assert all(httpx.get(f"{server.url}{JOBS}/{i}").status_code == 200 for i in ids[1:])


async def test_a_caller_sees_and_speaks_only_for_itself(server_factory: Start) -> None:
    server = server_factory({"ELIZA_JWT_SECRET": SECRET, "ELIZA_SERVER_AUTH_TOKEN": SERVER_TOKEN})

    bearer = partial(tokens.bearer, secret=SECRET)

    alice, bob = new_id(), new_id()
    post = f"{server.url}{JOBS}"
    as_bob = httpx.post(post, headers=bearer(alice), json={"userId": bob, "content": "hi"})
    assert as_bob.status_code == 403 and as_bob.json()["code"] == "IDENTITY_MISMATCH"
    mine = httpx.post(post, headers=bearer(alice), json={"userId": alice, "content": "hi"}).json()["jobId"]
    theirs = httpx.post(post, headers=bearer(bob), json={"userId": bob, "content": "hello"}).json()["jobId"]
    assert (await until_finished(server, mine, headers=bearer(alice)))["status"] == "completed"
    assert httpx.get(f"{post}/{theirs}", headers=bearer(alice)).status_code == 404
    listed = httpx.get(post, headers=bearer(alice), params={"userId": bob}).json()
    assert [j["jobId"] for j in listed["jobs"]] == [mine] and listed["total"] == 1
    everyone = httpx.get(post, headers={"X-API-KEY": SERVER_TOKEN}).json()
    assert {j["jobId"] for j in everyone["jobs"]} == {mine, theirs}
    assert httpx.get(f"{post}/health").status_code == 200  # open, as ElizaOS's
    assert httpx.get(post).status_code == 401
