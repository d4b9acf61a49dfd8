"""The OpenAI-compatible model against a real local HTTP server (``tests.support.fake_openai``)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from eliza_messaging.models.base import ChatTurn, GenerationRequest, ModelError, TextModel
from eliza_messaging.models.factory import create_model
from eliza_messaging.models.openai import OpenAIModel, OpenAISettings
from tests.support.fake_openai import FakeOpenAI, RecordedRequest

REPLY = "Hello there, I am a fake model reply."


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(reply=REPLY) as server:
        yield server


def settings_for(fake: FakeOpenAI, **overrides: object) -> OpenAISettings:
    values: dict[str, object] = {
        "base_url": fake.base_url,
        "small_model": "tiny-model",
        "large_model": "huge-model",
        "timeout_s": 5.0,
        "stall_timeout_s": 5.0,
        "max_retries": 0,
    }
    values.update(overrides)
    return OpenAISettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def model(fake: FakeOpenAI) -> AsyncIterator[OpenAIModel]:
    instance = OpenAIModel(settings_for(fake))
    yield instance
    await instance.aclose()


def request(*texts: str, timeout_s: float = 5.0, **fields: object) -> GenerationRequest:
    turns = [ChatTurn("system", "You are Ada, a helpful agent.")]
    turns += [ChatTurn("user", text, name="bob") for text in texts]
    return GenerationRequest(turns=tuple(turns), agent_name="Ada", timeout_s=timeout_s, **fields)  # type: ignore[arg-type]


async def run(model: TextModel, req: GenerationRequest) -> tuple[list[str], ModelError | None]:
    pieces: list[str] = []
    try:
        async for piece in model.stream(req):
            pieces.append(piece)
    except ModelError as err:
        return pieces, err
    return pieces, None


# -- happy paths --------------------------------------------------------------------------


async def test_streams_content_deltas(fake: FakeOpenAI, model: OpenAIModel) -> None:
    pieces, error = await run(model, request("hi"))
    assert error is None
    assert len(pieces) > 3
    assert "".join(pieces) == REPLY
    sent = fake.last_request
    assert sent.stream is True
    assert sent.model == "tiny-model"
    assert len(fake.chat_requests) == 1


async def test_size_picks_the_model(fake: FakeOpenAI, model: OpenAIModel) -> None:
    await run(model, request("hi", size="large"))
    assert fake.last_request.model == "huge-model"


async def test_sends_system_prompt_turns_and_options(fake: FakeOpenAI, model: OpenAIModel) -> None:
    turns = (
        ChatTurn("system", "You are Ada."),
        ChatTurn("user", "Hello Ada", name="Bob Smith!"),
        ChatTurn("assistant", "Hello Bob."),
        ChatTurn("user", "How are you?"),
    )
    req = GenerationRequest(turns=turns, agent_name="Ada", max_tokens=77, temperature=0.2, seed=5, stop=("\nUser:",))
    await run(model, req)
    sent = fake.last_request
    assert sent.messages == [
        {"role": "system", "content": "You are Ada."},
        {"role": "user", "content": "Hello Ada", "name": "Bob_Smith"},
        {"role": "assistant", "content": "Hello Bob."},
        {"role": "user", "content": "How are you?"},
    ]
    assert sent.body["max_tokens"] == 77
    assert sent.body["temperature"] == 0.2
    assert sent.body["seed"] == 5
    assert sent.body["stop"] == ["\nUser:"]
    assert sent.headers["authorization"] == "Bearer not-needed"  # empty key -> placeholder


async def test_endpoint_that_ignores_stream_true(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.mode = "json"
    pieces, error = await run(model, request("hi"))
    assert error is None
    assert pieces == [REPLY]
    assert [r.stream for r in fake.chat_requests] == [True]


async def test_unreadable_stream_is_retried_without_streaming(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.mode = "garbled"
    pieces, error = await run(model, request("hi"))
    assert error is None
    assert "".join(pieces) == REPLY
    assert [r.stream for r in fake.chat_requests] == [True, False]


async def test_stopping_early_releases_the_connection(fake: FakeOpenAI, model: OpenAIModel) -> None:
    stream = model.stream(request("hi"))
    first = await anext(stream)
    await stream.aclose()  # type: ignore[attr-defined]
    assert REPLY.startswith(first)
    pieces, error = await run(model, request("again"))
    assert error is None and "".join(pieces) == REPLY


async def test_modes_can_change_between_requests(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.configure(mode="error")
    assert (await run(model, request("hi")))[1] is not None
    fake.configure(mode="stream", reply="Back again.")
    assert (await run(model, request("hi"))) == (["Back", " again."], None)


# -- failures -----------------------------------------------------------------------------


async def test_http_500_becomes_an_actionable_model_error(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.configure(mode="error", error_message="The GPU caught fire.")
    pieces, error = await run(model, request("hi"))
    assert pieces == []
    assert error is not None
    message = str(error)
    assert fake.base_url in message
    assert "HTTP 500" in message and "The GPU caught fire" in message
    assert "check" in message
    assert len(fake.chat_requests) == 1  # max_retries=0


async def test_wrong_api_key(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.api_key = "sk-right"
    _, error = await run(model, request("hi"))
    assert error is not None and "OPENAI_API_KEY" in str(error) and "401" in str(error)
    keyed = OpenAIModel(settings_for(fake, api_key="sk-right"))
    try:
        assert "".join((await run(keyed, request("hi")))[0]) == REPLY
    finally:
        await keyed.aclose()


async def test_unknown_model_names_the_setting(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.configure(mode="error", status=404, error_message="model 'tiny-model' not found")
    _, error = await run(model, request("hi"))
    assert error is not None and "OPENAI_SMALL_MODEL" in str(error) and "tiny-model" in str(error)
    _, error = await run(model, request("hi", size="large"))
    assert error is not None and "OPENAI_LARGE_MODEL" in str(error)


async def test_unreachable_endpoint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = OpenAIModel(OpenAISettings(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0))
    try:
        pieces, error = await run(unreachable, request("hi"))
    finally:
        await unreachable.aclose()
    assert pieces == []
    assert error is not None
    assert f"127.0.0.1:{port}" in str(error) and "OPENAI_BASE_URL" in str(error)


async def test_failure_mid_stream_keeps_the_partial_reply(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.configure(mode="drop", fail_after=3)
    pieces, error = await run(model, request("hi"))
    assert pieces == ["Hello", " there,", " I"]
    assert error is not None and "middle of a reply" in str(error)


async def test_overall_deadline(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.configure(mode="slow", chunk_delay=0.2)
    loop = asyncio.get_running_loop()
    start = loop.time()
    pieces, error = await run(model, request("hi", timeout_s=0.5))
    elapsed = loop.time() - start
    assert error is not None
    assert "within 0.5 s" in str(error) and fake.base_url in str(error)
    assert 0 < len(pieces) < len(REPLY.split())  # some words arrived before the deadline
    assert elapsed < 1.5


async def test_no_answer_at_all(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.configure(mode="hang")
    pieces, error = await run(model, request("hi", timeout_s=0.3))
    assert pieces == []
    assert error is not None and "did not answer within 0.3 s" in str(error)


async def test_stall_between_chunks(fake: FakeOpenAI) -> None:
    fake.configure(mode="slow", chunk_delay=2.0)
    stalling = OpenAIModel(settings_for(fake, stall_timeout_s=0.3))
    try:
        pieces, error = await run(stalling, request("hi", timeout_s=5))
    finally:
        await stalling.aclose()
    assert pieces == []
    assert error is not None and "OPENAI_STALL_TIMEOUT" in str(error)


async def test_sdk_timeout(fake: FakeOpenAI) -> None:
    fake.configure(first_byte_delay=2.0)
    impatient = OpenAIModel(settings_for(fake, timeout_s=0.3))
    try:
        _, error = await run(impatient, request("hi", timeout_s=5))
    finally:
        await impatient.aclose()
    assert error is not None and "OPENAI_TIMEOUT" in str(error)


# -- should_respond -----------------------------------------------------------------------


def answer_with(word: str) -> Callable[[RecordedRequest], str]:
    def responder(_: RecordedRequest) -> str:
        return word

    return responder


async def test_should_respond_respond(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.responder = answer_with("RESPOND")
    assert await model.should_respond(request("does anyone know how to bake bread?"))
    sent = fake.last_request
    assert sent.stream is False
    assert sent.model == "tiny-model"
    system = sent.messages[0]
    assert system["role"] == "system"
    assert "Ada" in system["content"] and "RESPOND" in system["content"] and "IGNORE" in system["content"]
    assert "bob: does anyone know how to bake bread?" in sent.messages[-1]["content"]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("IGNORE", False), ("respond.", True), ("I would IGNORE this; do not RESPOND", False), ("maybe", False)],
)
async def test_should_respond_parsing(fake: FakeOpenAI, model: OpenAIModel, answer: str, expected: bool) -> None:
    fake.responder = answer_with(answer)
    assert await model.should_respond(request("nice weather")) is expected


async def test_should_respond_is_false_when_the_endpoint_fails(fake: FakeOpenAI, model: OpenAIModel) -> None:
    fake.configure(mode="error")
    assert await model.should_respond(request("Ada?")) is False
    fake.configure(mode="hang")
    assert await model.should_respond(request("Ada?", timeout_s=0.3)) is False


# -- settings and factory -----------------------------------------------------------------


def test_settings_from_env() -> None:
    defaults = OpenAISettings.from_env({})
    assert (defaults.small_model, defaults.large_model) == ("gpt-4o-mini", "gpt-4o")
    assert defaults.base_url == "https://api.openai.com/v1"
    custom = OpenAISettings.from_env(
        {
            "OPENAI_BASE_URL": "http://localhost:11434/v1",
            "OPENAI_API_KEY": "",
            "OPENAI_SMALL_MODEL": "llama3.2",
            "OPENAI_LARGE_MODEL": "llama3.3",
            "OPENAI_TIMEOUT": "12.5",
            "OPENAI_MAX_RETRIES": "0",
        }
    )
    assert custom.base_url == "http://localhost:11434/v1"
    assert custom.model_for("small") == "llama3.2" and custom.model_for("large") == "llama3.3"
    assert custom.timeout_s == 12.5 and custom.max_retries == 0
    with pytest.raises(ValueError, match="OPENAI_TIMEOUT"):
        OpenAISettings.from_env({"OPENAI_TIMEOUT": "soon"})
    with pytest.raises(ValueError, match="OPENAI_MAX_RETRIES"):
        OpenAISettings.from_env({"OPENAI_MAX_RETRIES": "-1"})


async def test_credentials_in_the_url_are_not_shown() -> None:
    secret = OpenAIModel(OpenAISettings(base_url="http://user:hunter2@127.0.0.1:9/v1", max_retries=0))
    try:
        _, error = await run(secret, request("hi"))
    finally:
        await secret.aclose()
    assert error is not None and "hunter2" not in str(error) and "127.0.0.1:9" in str(error)


async def test_factory_builds_openai_from_character_settings(fake: FakeOpenAI) -> None:
    env = {"OPENAI_SMALL_MODEL": "env-small", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "OPENAI_MAX_RETRIES": "0"}
    built = create_model("OpenAI", {"model": "llama3", "OPENAI_BASE_URL": fake.base_url}, env=env)
    assert isinstance(built, OpenAIModel)
    assert built.settings.small_model == built.settings.large_model == "llama3"
    assert built.settings.max_retries == 0
    try:
        pieces, error = await run(built, request("hi"))
    finally:
        await built.aclose()
    assert error is None and "".join(pieces) == REPLY
    assert fake.last_request.model == "llama3"


def test_factory_short_setting_names_and_precedence() -> None:
    built = create_model(
        "openai",
        {"small_model": "s", "model": "both", "base_url": "http://h/v1", "timeout": 7, "api_key": "k"},  # type: ignore[dict-item]
        env={"OPENAI_LARGE_MODEL": "env-large", "OPENAI_API_KEY": "env-key"},
    )
    assert isinstance(built, OpenAIModel)
    assert built.settings.small_model == "s"
    assert built.settings.large_model == "both"
    assert built.settings.base_url == "http://h/v1"
    assert built.settings.timeout_s == 7.0
    assert built.settings.api_key == "k"
    assert isinstance(built, TextModel)
