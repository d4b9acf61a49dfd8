"""The SDK with a signed token, against a server that requires one: its identity is the token's subject,
in the handshake and on REST, in both dialects; without the token the refusal says what to send."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest

from eliza_messaging.client import ConnectError, ElizaClient, RequestError
from tests.conftest import new_id
from tests.support.server import ServerProcess

SECRET = "sdk-test-secret-that-is-long-enough-for-hs256"


def token(sub: str) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 300}, SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"ELIZA_JWT_SECRET": SECRET, "ELIZA_REQUIRE_AUTH": "true", "ENABLE_DATA_ISOLATION": "true"}
    proc = ServerProcess(tmp_path_factory.mktemp("strict") / "data", env=env).start()
    yield proc
    proc.stop()


async def test_without_a_token_the_refusal_says_what_to_send(strict: ServerProcess) -> None:
    with pytest.raises(ConnectError, match="requires a signed token"):
        await ElizaClient(strict.url, timeout=3).connect()


@pytest.mark.parametrize("dialect", ["eliza17", "seed"])
async def test_with_a_token_the_client_is_its_subject_on_socket_and_rest(strict: ServerProcess, dialect: str) -> None:
    me = new_id()
    async with ElizaClient(strict.url, token=token(me), dialect=dialect) as client:  # type: ignore[arg-type]
        assert client.entity_id == me
        channel = new_id()
        await client.join(channel)
        sent = await client.send(channel, "signed and sealed")
        assert sent.id
        history = await client.history(channel)  # REST: isolation lets only the channel's participants read
        assert [m.text for m in history] == ["signed and sealed"]
        assert history[0].sender_id == me


async def test_a_token_that_names_nobody_is_refused_before_connecting() -> None:
    with pytest.raises(ValueError, match="signed JWT"):
        ElizaClient("http://127.0.0.1:9", token="not-a-jwt")


async def test_rest_without_the_token_reads_nothing(strict: ServerProcess) -> None:
    """The positive test above reads its history; an anonymous REST caller may not (the control)."""
    me = new_id()
    async with ElizaClient(strict.url, token=token(me)) as client:
        channel = new_id()
        await client.join(channel)
        await client.send(channel, "private")
    anonymous = ElizaClient(strict.url, entity_id=new_id())
    with pytest.raises(RequestError):
        await anonymous.history(channel)
    await anonymous.close()
