"""What the ElizaOS web client's agent panels read: runs, run detail, model calls ("logs"), panels, the record.

Against the real app and its real Eliza agent: every reply is a stored run, listed newest first and kept
to ``ELIZA_AGENT_RUNS_KEEP`` per agent; model calls give sizes and timing, never the text.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from tests.conftest import new_id
from tests.gateway.http.conftest import App

API = "/api/messaging"


async def eliza(app: App) -> str:
    agents = (await app.client.get("/api/agents")).json()["data"]["agents"]
    return str(next(a["id"] for a in agents if a["name"] == "Eliza"))


async def talk(app: App, agent: str, user: str, *texts: str) -> tuple[str, list[dict[str, Any]]]:
    """Say each text in the DM of ``user`` and ``agent``, waiting for each reply; the channel and the answers."""
    channel = (await app.client.get(f"{API}/dm-channel", params={"currentUserId": user, "targetUserId": agent})).json()[
        "data"
    ]["id"]
    answers = []
    for text in texts:
        response = await app.client.post(
            f"{API}/channels/{channel}/messages", json={"author_id": user, "content": text, "transport": "http"}
        )
        assert response.status_code == 201, response.text
        answers.append(response.json())
    return channel, answers


async def ended_runs(app: App, agent: str, count: int, **params: Any) -> dict[str, Any]:
    """The runs page once ``count`` runs have ended and none is in progress (a run is written just after its
    reply is stored)."""
    for _ in range(200):
        page: dict[str, Any] = (await app.client.get(f"/api/agents/{agent}/runs", params=params)).json()["data"]
        statuses = [r["status"] for r in page["runs"]]
        if len(statuses) >= count and "started" not in statuses:
            return page
        await asyncio.sleep(0.02)
    raise AssertionError(f"{count} runs never ended: {page}")


async def test_a_reply_is_a_run_with_its_model_call_and_the_texts_stay_out(app: App) -> None:
    agent, user = await eliza(app), new_id()
    channel, [answer] = await talk(app, agent, user, "I feel a bit lost today")
    sent, reply = answer["userMessage"], answer["agentResponse"]
    assert reply["thought"] and reply["actions"] == ["REPLY"]
    history = (await app.client.get(f"{API}/channels/{channel}/messages")).json()["data"]["messages"]
    assert history[0]["rawMessage"]["thought"] == reply["thought"] == history[0]["metadata"]["thought"]

    page = await ended_runs(app, agent, 1)
    assert page["total"] == 1 and page["hasMore"] is False
    [run] = page["runs"]
    assert run["status"] == "completed" and run["metadata"] == {"outcome": "replied"}
    assert (run["messageId"], run["roomId"], run["entityId"]) == (sent["id"], channel, user)
    assert run["counts"] == {"actions": 1, "modelCalls": 1, "errors": 0, "evaluators": 0}
    assert run["durationMs"] == run["endedAt"] - run["startedAt"] >= 0

    detail = (await app.client.get(f"/api/agents/{agent}/runs/{run['runId']}")).json()["data"]
    assert detail["summary"] == run
    assert [e["type"] for e in detail["events"]] == ["RUN_STARTED", "MODEL_USED", "ACTION_COMPLETED", "RUN_ENDED"]
    assert detail["events"][1]["data"]["modelType"] == "TEXT_SMALL"
    assert detail["events"][-1]["data"] == {"status": "completed", "durationMs": run["durationMs"]}

    logs = (await app.client.get(f"/api/agents/{agent}/logs", params={"limit": 50})).json()["data"]
    [call] = logs
    assert call["type"] == "useModel:TEXT_SMALL" and call["roomId"] == channel and call["entityId"] == agent
    body = call["body"]
    assert body["runId"] == run["runId"] and body["messageId"] == sent["id"] and body["outcome"] == "ok"
    assert body["promptChars"] >= len(sent["content"]) and body["responseChars"] == len(reply["text"])
    assert body["provider"] == "eliza" and body["executionTime"] >= 0
    shown = json.dumps([logs, detail, page])
    assert "lost today" not in shown and reply["text"] not in shown  # sizes only, never the texts
    for _ in range(200):  # listed from the moment it ended; stored once its write is done
        stored = await app.messaging.store.get_agent_run(agent, run["runId"])
        if stored is not None:
            break
        await asyncio.sleep(0.02)
    assert stored is not None and stored.outcome == "replied"


async def test_runs_are_newest_first_filtered_and_kept_to_the_setting(
    app_factory: Callable[..., Awaitable[App]],
) -> None:
    app = await app_factory(reply_wait_s=5.0, agent_runs_keep=2)
    agent, user = await eliza(app), new_id()
    channel, answers = await talk(app, agent, user, "Hello", "I am sad", "My mother worries")
    page = await ended_runs(app, agent, 2)
    sent = [a["userMessage"]["id"] for a in answers]
    assert [r["messageId"] for r in page["runs"]] == [sent[2], sent[1]] and page["total"] == 2  # the oldest gone
    one = (await app.client.get(f"/api/agents/{agent}/runs", params={"limit": 1})).json()["data"]
    assert [r["messageId"] for r in one["runs"]] == [sent[2]] and one["hasMore"] is True
    assert len((await app.client.get(f"/api/agents/{agent}/logs", params={"limit": 1})).json()["data"]) == 1
    elsewhere = (await app.client.get(f"/api/agents/{agent}/runs", params={"roomId": new_id()})).json()["data"]
    assert elsewhere == {"runs": [], "total": 0, "hasMore": False}
    here = (await app.client.get(f"/api/agents/{agent}/runs", params={"roomId": channel, "status": "all"})).json()
    assert here["data"]["total"] == 2
    failed = (await app.client.get(f"/api/agents/{agent}/runs", params={"status": "error"})).json()["data"]
    assert failed["runs"] == []


async def test_bad_ids_and_parameters_say_what_to_fix(app: App) -> None:
    agent = await eliza(app)
    for path, params, status, field in [
        (f"/api/agents/{new_id()}/runs", {}, 404, "agentId"),
        ("/api/agents/not-a-uuid/logs", {}, 400, "agentId"),
        (f"/api/agents/{agent}/runs", {"limit": "many"}, 400, "limit"),
        (f"/api/agents/{agent}/logs", {"limit": "0"}, 400, "limit"),
        (f"/api/agents/{agent}/runs", {"status": "exploded"}, 400, "status"),
        (f"/api/agents/{agent}/runs", {"roomId": "room-1"}, 400, "roomId"),
        (f"/api/agents/{agent}/runs/{new_id()}", {}, 404, "runId"),
        (f"/api/agents/{new_id()}/panels", {}, 404, "agentId"),
    ]:
        response = await app.client.get(path, params=params)
        assert response.status_code == status, (path, params, response.text)
        assert response.json()["error"]["field"] == field


async def test_the_record_has_what_the_agent_form_edits_and_no_panels(app: App) -> None:
    agent = await eliza(app)
    record = (await app.client.get(f"/api/agents/{agent}")).json()["data"]
    assert record["username"] == "Eliza" and isinstance(record["createdAt"], int)
    assert record["updatedAt"] == record["createdAt"]
    assert all(record[k] == [] for k in ("postExamples", "topics", "adjectives", "knowledge", "plugins"))
    assert (await app.client.get(f"/api/agents/{agent}/panels")).json() == {"success": True, "data": []}
