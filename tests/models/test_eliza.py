"""The embedded ELIZA: ranking, reflection, memory, determinism, streaming, addressing."""

from __future__ import annotations

import asyncio
import dataclasses
import re

import pytest

from eliza_messaging.models.base import ChatTurn, GenerationRequest, TextModel
from eliza_messaging.models.eliza import ElizaEngine, ElizaModel, mentions, strip_address, validate_script
from eliza_messaging.models.eliza_script import DEFAULT_SCRIPT, Keyword, Rule
from eliza_messaging.models.factory import create_model


def conversation(*users: str, seed: int | None = None, agent: str = "Eliza") -> GenerationRequest:
    """User turns with an assistant turn between each, as the agents layer builds them."""
    turns: list[ChatTurn] = [ChatTurn("system", f"You are {agent}.")]
    for index, text in enumerate(users):
        if index:
            turns.append(ChatTurn("assistant", "I see."))
        turns.append(ChatTurn("user", text, name="alice"))
    return GenerationRequest(turns=tuple(turns), agent_name=agent, seed=seed)


async def collect(model: ElizaModel, request: GenerationRequest) -> list[str]:
    return [piece async for piece in model.stream(request)]


@pytest.fixture
def model() -> ElizaModel:
    return ElizaModel()


@pytest.fixture
def engine() -> ElizaEngine:
    return ElizaEngine()


# -- script -------------------------------------------------------------------------------


def test_default_script_is_valid() -> None:
    validate_script(DEFAULT_SCRIPT)


def test_broken_scripts_are_rejected() -> None:
    bad_goto = Keyword(("oops",), 1, (Rule("*", goto="nowhere"),))
    with pytest.raises(ValueError, match="unknown keyword 'nowhere'"):
        validate_script(dataclasses.replace(DEFAULT_SCRIPT, keywords=(*DEFAULT_SCRIPT.keywords, bad_goto)))
    bad_part = Keyword(("oops",), 1, (Rule("* oops +", ("Why {3}?",)),))
    with pytest.raises(ValueError, match="missing part"):
        validate_script(dataclasses.replace(DEFAULT_SCRIPT, keywords=(*DEFAULT_SCRIPT.keywords, bad_part)))


# -- keyword ranking and decomposition ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("I remember my computer crashed", "computer"),  # computer outranks remember, my and i
        ("I remember my first bike", "remember"),  # remember outranks my and i
        ("I think my job is boring", "my"),  # my outranks i although i comes first
        ("if my boss calls I will hide", "if"),
        ("You are a strange one", "you"),
        ("What is your name?", "name"),
    ],
)
def test_highest_ranked_keyword_wins(engine: ElizaEngine, text: str, keyword: str) -> None:
    reply = engine.respond([text], agent_name="Eliza", seed=1)
    assert reply.source == "rule"
    assert reply.keyword == keyword


def test_equal_ranks_go_to_the_earliest_keyword(engine: ElizaEngine) -> None:
    assert engine.respond(["you never listen, I said"], seed=1).keyword == "you"
    assert engine.respond(["I said you never listen"], seed=1).keyword == "i"


def test_decomposition_parts_are_reassembled(engine: ElizaEngine) -> None:
    for seed in range(8):
        reply = engine.respond(["I need a long holiday"], seed=seed)
        assert "a long holiday" in reply.text, reply


def test_goto_redirects_to_another_keyword(engine: ElizaEngine) -> None:
    reply = engine.respond(["I think you are cruel to me"], seed=3)
    assert reply.keyword == "you"
    assert "cruel to you" in reply.text


def test_synonym_groups_match(engine: ElizaEngine) -> None:
    for word in ("sad", "lonely", "miserable"):
        for seed in range(4):
            reply = engine.respond([f"I am so {word}"], seed=seed)
            assert word in reply.text, reply


def test_pre_substitutions_normalise_input(engine: ElizaEngine) -> None:
    reply = engine.respond(["I can't sleep"], seed=0)
    assert reply.keyword == "i"
    assert "cannot sleep" in reply.text or reply.text in ("Have you tried?", "Perhaps you could sleep now.")
    assert engine.respond(["Are you a robot?"], seed=0).keyword == "computer"


def test_reassembly_cycles_through_alternatives(engine: ElizaEngine) -> None:
    texts = []
    history: list[str] = []
    for _ in range(4):
        history.append("I need a holiday")
        texts.append(engine.respond(history, seed=11).text)
    assert len(set(texts)) == 4  # the rule has four alternatives, each used once


# -- reflection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "reflected"),
    [
        ("i am sure you hate me", "you are sure I hate you"),
        ("are you angry with me", "am I angry with you"),
        ("my dog likes your cat", "your dog likes my cat"),
        ("i was late because you were away", "you were late because I was away"),
        ("i love you", "you love me"),
        ("they are myself and yours", "they are yourself and mine"),
    ],
)
def test_reflection_swaps_point_of_view(engine: ElizaEngine, phrase: str, reflected: str) -> None:
    assert engine.reflect(phrase) == reflected


def test_reflection_keeps_proper_names(engine: ElizaEngine) -> None:
    assert engine.respond(["My name is Bob"], seed=0).text.count("Bob") == 1


# -- memory -------------------------------------------------------------------------------


def test_my_rule_is_remembered_and_used_when_nothing_matches(model: ElizaModel) -> None:
    first = model.reply(conversation("my sister borrowed my car", seed=5))
    assert first.keyword == "my" and first.source == "rule"
    later = model.reply(conversation("my sister borrowed my car", "the weather is grey", seed=5))
    assert later.source == "memory"
    assert "your sister borrowed your car" in later.text


def test_memory_is_used_once(model: ElizaModel) -> None:
    reply = model.reply(conversation("my sister borrowed my car", "the weather is grey", "the sky is grey"))
    assert reply.source == "fallback"
    assert reply.text in DEFAULT_SCRIPT.fallbacks


def test_memory_is_not_invented(model: ElizaModel) -> None:
    reply = model.reply(conversation("the weather is grey"))
    assert reply.source == "fallback"
    assert reply.text in DEFAULT_SCRIPT.fallbacks


def test_memory_survives_across_model_instances(model: ElizaModel) -> None:
    request = conversation("my exam went badly", "hello", "the weather is grey")
    assert model.reply(request).text == ElizaModel().reply(request).text
    assert "your exam went badly" in model.reply(request).text


def test_memories_come_back_oldest_first(engine: ElizaEngine) -> None:
    history = ["my cat is ill", "my boss shouts", "blah", "blah blah"]
    first = engine.respond(history[:3], seed=0)
    second = engine.respond(history, seed=0)
    assert "your cat is ill" in first.text
    assert "your boss shouts" in second.text


# -- determinism --------------------------------------------------------------------------


def test_same_seed_gives_same_reply() -> None:
    request = conversation("I feel anxious about tomorrow", "I want to sleep", seed=42)
    assert ElizaModel().reply(request) == ElizaModel().reply(request)


def test_different_seeds_can_differ(model: ElizaModel) -> None:
    texts = {model.reply(conversation("I feel anxious about tomorrow", seed=seed)).text for seed in range(30)}
    assert len(texts) > 1


def test_without_a_seed_the_conversation_decides(model: ElizaModel) -> None:
    request = conversation("I want a new job", "I want a new job")
    assert model.reply(request) == model.reply(request)
    texts = {model.reply(conversation(f"Hello number {n}", "I want a new job")).text for n in range(20)}
    assert len(texts) > 1


# -- goodbye, greeting, fallbacks ---------------------------------------------------------


@pytest.mark.parametrize("text", ["Goodbye", "ok bye Eliza", "See you later!", "Good night", "farewell"])
def test_goodbye_is_detected(engine: ElizaEngine, text: str) -> None:
    reply = engine.respond([text], agent_name="Eliza", seed=0)
    assert reply.goodbye
    assert reply.keyword == "goodbye"


def test_goodbye_outranks_everything(engine: ElizaEngine) -> None:
    assert engine.respond(["my computer is broken, goodbye"], seed=0).goodbye


def test_not_goodbye(engine: ElizaEngine) -> None:
    assert not engine.respond(["the bygone days"], seed=0).goodbye


def test_only_the_name_gets_a_prompt_to_talk(engine: ElizaEngine) -> None:
    reply = engine.respond(["@Eliza"], agent_name="Eliza", seed=0)
    assert reply.source == "empty"
    assert reply.text in DEFAULT_SCRIPT.empty_replies


def test_agent_name_in_replies(engine: ElizaEngine) -> None:
    for seed in range(4):
        assert "Ada" in engine.respond(["what is your name?"], agent_name="Ada", seed=seed).text


# -- addressing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["Eliza, I feel sad", "@Eliza I feel sad", "eliza: I feel sad", "I feel sad, Eliza.", "ELIZA I feel sad"]
)
def test_leading_or_trailing_name_is_stripped(model: ElizaModel, text: str) -> None:
    assert strip_address(text, "Eliza").rstrip(".") == "I feel sad"
    assert model.reply(conversation(text, seed=9)).text == model.reply(conversation("I feel sad", seed=9)).text
    assert model.reply(conversation(text)).text == model.reply(conversation("I feel sad")).text


def test_name_inside_words_is_not_stripped() -> None:
    assert strip_address("Elizabeth called me", "Eliza") == "Elizabeth called me"
    assert strip_address("I told Eliza everything", "Eliza") == "I told Eliza everything"


async def test_should_respond_only_when_named(model: ElizaModel) -> None:
    assert await model.should_respond(conversation("hey Eliza, are you there?"))
    assert await model.should_respond(conversation("what do you think @eliza"))
    assert await model.should_respond(conversation("ELIZA!"))
    assert not await model.should_respond(conversation("I met Elizabeth today"))
    assert not await model.should_respond(conversation("nobody named here"))
    # only the latest user turn counts
    assert not await model.should_respond(conversation("Eliza, hello", "and another thing"))
    assert not await model.should_respond(conversation("hello", agent=""))


def test_mentions_handles_punctuation_in_names() -> None:
    assert mentions("thanks Dr. Who!", "Dr. Who")
    assert not mentions("thanks Dr Who", "Dr. Who")


# -- streaming and the interface ----------------------------------------------------------


async def test_stream_yields_words_that_join_to_the_reply(model: ElizaModel) -> None:
    request = conversation("I am worried that my exams will go badly", seed=2)
    pieces = await collect(model, request)
    assert len(pieces) > 3
    assert "".join(pieces) == model.reply(request).text
    assert all(re.fullmatch(r"\S+ ?", piece) for piece in pieces)
    assert all(piece.endswith(" ") for piece in pieces[:-1])


async def test_stream_hands_control_back_between_words(model: ElizaModel) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    pieces = await collect(model, conversation("I need a holiday in the mountains", seed=1))
    task.cancel()
    assert ticks >= len(pieces) - 1


async def test_word_delay_is_applied() -> None:
    model = ElizaModel(word_delay_s=0.02)
    loop = asyncio.get_running_loop()
    start = loop.time()
    pieces = await collect(model, conversation("I need a holiday in the mountains", seed=1))
    assert loop.time() - start >= 0.02 * len(pieces) * 0.9


def test_negative_word_delay_is_rejected() -> None:
    with pytest.raises(ValueError):
        ElizaModel(word_delay_s=-1)


async def test_is_a_text_model(model: ElizaModel) -> None:
    assert isinstance(model, TextModel)
    assert model.name == "eliza"
    await model.aclose()


def test_only_user_turns_are_answered(model: ElizaModel) -> None:
    request = GenerationRequest(
        turns=(ChatTurn("user", "I need a holiday"), ChatTurn("assistant", "my computer is broken")),
        agent_name="Eliza",
        seed=0,
    )
    assert model.reply(request).keyword == "i"


def test_factory_builds_eliza() -> None:
    model = create_model("ELIZA", {"word_delay": "0.5"}, env={})
    assert isinstance(model, ElizaModel)
    assert model.word_delay_s == 0.5
    from_env = create_model(" eliza ", None, env={"ELIZA_WORD_DELAY": "0.25"})
    assert isinstance(from_env, ElizaModel) and from_env.word_delay_s == 0.25
    with pytest.raises(ValueError, match="ELIZA_WORD_DELAY"):
        create_model("eliza", {"word_delay": "soon"}, env={})


def test_factory_rejects_unknown_providers() -> None:
    with pytest.raises(ValueError, match="eliza, openai"):
        create_model("anthropic", env={})
