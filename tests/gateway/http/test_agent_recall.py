"""Agents recall beyond their window: a fact said 40 messages ago (the window is 32) reaches the prompt
of an OpenAI-compatible model (tests.support.fake_openai) when asked about, marked as recalled; and in
a new DM, what the same person said in an earlier DM. The real app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from eliza_messaging.agents.context import RECALL_HEADER
from tests.conftest import new_id
from tests.gateway.http.conftest import App
from tests.support.fake_openai import FakeOpenAI, RecordedRequest

API = "/api/messaging"
FACT = "The launch code for project Bluebird is 7Q-ALPHA-99"

pytestmark = pytest.mark.timeout(180)


def answers_from_the_prompt(request: RecordedRequest) -> str:
    """The model 'knows' only what its prompt holds, like a real one."""
    prompt = json.dumps(request.messages)
    if "7Q-ALPHA-99" in prompt:
        return "The launch code is 7Q-ALPHA-99."
    if "Ingrid" in prompt:
        return "Your sister is Ingrid."
    return "I do not know."


async def agent_app(
    app_factory: Callable[..., Awaitable[App]], tmp_path: Path, fake: FakeOpenAI, **settings: Any
) -> tuple[App, str]:
    character = {
        "name": "Mnemo",
        "settings": {
            "model_provider": "openai",
            "OPENAI_BASE_URL": fake.base_url,
            "OPENAI_API_KEY": "sk-test",
            "max_retries": "0",
        },
    }
    path = tmp_path / f"mnemo-{new_id()}.json"
    path.write_text(json.dumps(character))
    app = await app_factory(characters=[str(path)], reply_wait_s=20.0, **settings)
    agents = (await app.client.get("/api/agents")).json()["data"]["agents"]
    return app, next(a["id"] for a in agents if a["name"] == "Mnemo")


async def post(app: App, channel: str, author: str, text: str, **body: Any) -> dict[str, Any]:
    answer = await app.client.post(
        f"{API}/channels/{channel}/messages", json={"author_id": author, "content": text, **body}
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def recalled(request: RecordedRequest) -> str:
    turns = [m["content"] for m in request.messages if m["role"] == "system" and RECALL_HEADER in m["content"]]
    return turns[0] if turns else ""


async def test_a_fact_forty_messages_back_reaches_the_model_when_asked_about(
    app_factory: Callable[..., Awaitable[App]], tmp_path: Path, store_settings: dict[str, Any]
) -> None:
    with FakeOpenAI(responder=answers_from_the_prompt) as fake:
        for recall in (True, False):
            app, agent = await agent_app(app_factory, tmp_path, fake, agent_recall=recall, **store_settings)
            room, me = new_id(), new_id()
            await post(app, room, me, FACT)  # the agent is not in the room yet: nobody answers these
            for i in range(40):
                await post(app, room, me, f"filler message {i} about the weather and lunch")
            added = await app.client.post(f"{API}/channels/{room}/agents", json={"agentId": agent})
            assert added.status_code == 201, added.text
            fake.clear()
            answered = await post(
                app, room, me, "Mnemo, what is the launch code for project Bluebird?", transport="http"
            )
            prompt = fake.chat_requests[-1]
            conversation = [m["content"] for m in prompt.messages if m["role"] != "system"]
            assert len(conversation) == 32 and FACT not in conversation  # the fact is beyond the window
            if recall:
                assert FACT in recalled(prompt)
                assert answered["agentResponse"]["text"] == "The launch code is 7Q-ALPHA-99."
            else:
                assert recalled(prompt) == ""
                assert answered["agentResponse"]["text"] == "I do not know."


async def test_a_new_dm_recalls_what_the_same_person_said_in_an_earlier_dm(
    app_factory: Callable[..., Awaitable[App]], tmp_path: Path, store_settings: dict[str, Any]
) -> None:
    with FakeOpenAI(responder=answers_from_the_prompt) as fake:
        app, agent = await agent_app(app_factory, tmp_path, fake, **store_settings)
        me, stranger = new_id(), new_id()
        dm_meta = {"isDm": True, "targetUserId": agent}
        await post(app, new_id(), me, "My sister is called Ingrid", metadata=dm_meta, transport="http")
        await post(app, new_id(), stranger, "My sister is called Astrid", metadata=dm_meta, transport="http")
        fake.clear()
        answered = await post(app, new_id(), me, "What is my sister called?", metadata=dm_meta, transport="http")
        memory = recalled(fake.chat_requests[-1])
        assert "My sister is called Ingrid" in memory
        assert "Astrid" not in memory  # another person's DM is never recalled
        assert answered["agentResponse"]["text"] == "Your sister is Ingrid."
