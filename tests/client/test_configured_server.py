"""The SDK against a server set up differently: it wants an API key, and its agent's model fails mid-reply."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from eliza_messaging.client import ConnectError, ElizaClient, ReplyError
from tests.conftest import new_id
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ServerProcess

KEY = "sesame"


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """SERVER_API_KEY set, and one agent, Flaky, whose model drops the connection after two words."""
    base = tmp_path_factory.mktemp("locked")
    with FakeOpenAI(reply="one two three four five six", mode="drop", fail_after=2) as fake:
        character = {
            "name": "Flaky",
            "settings": {
                "model_provider": "openai",
                "OPENAI_BASE_URL": fake.base_url,
                "max_retries": "0",
                "timeout": "2",
                "stall_timeout": "1",
            },
        }
        (base / "flaky.json").write_text(json.dumps(character))
        env = {"SERVER_API_KEY": KEY, "ELIZA_CHARACTERS": str(base / "flaky.json"), "ELIZA_AGENT_TIMEOUT": "3"}
        proc = ServerProcess(base / "data", env=env).start()
        yield proc
        proc.stop()


async def test_without_the_key_the_refusal_says_what_to_send(locked: ServerProcess) -> None:
    with pytest.raises(ConnectError, match="refused the connection: This server needs an API key"):
        await ElizaClient(locked.url, timeout=3).connect()


@pytest.mark.parametrize("dialect", ["eliza17", "seed"])
async def test_with_the_key_both_dialects_get_in(locked: ServerProcess, dialect: str) -> None:
    async with ElizaClient(locked.url, api_key=KEY, dialect=dialect) as client:  # type: ignore[arg-type]
        channel = new_id()
        await client.join(channel)
        assert (await client.send(channel, "let me in")).id


async def test_a_failing_model_raises_reply_error_with_the_partial_text(locked: ServerProcess) -> None:
    async with ElizaClient(locked.url, api_key=KEY) as client:
        channel = await client.join_dm((await client.find_agent("Flaky")).id)
        sent = await client.send(channel, "are you there?")
        stream = client.stream_reply(sent.id, timeout=15)
        received: list[str] = []
        with pytest.raises(ReplyError) as failure:
            async for chunk in stream:
                received.append(chunk.text)
        assert failure.value.partial_text.split() == ["one", "two"] == "".join(received).split()
        assert failure.value.message.startswith("The agent failed to answer")
        assert stream.reply is None
