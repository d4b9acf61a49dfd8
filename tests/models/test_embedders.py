"""The embedders behind one interface: an OpenAI-compatible endpoint (tests.support.fake_openai, a real
HTTP server on 127.0.0.1) and the offline model of the [semantic] extra, and choosing one from settings."""

from __future__ import annotations

import math
import socket

import pytest

from eliza_messaging.models.embedder import Embedder, EmbeddingError
from eliza_messaging.models.embedders import create_embedder
from eliza_messaging.models.local_embedder import LocalEmbedder
from eliza_messaging.models.openai_embedder import MAX_BATCH, OpenAIEmbedder
from tests.support.fake_openai import FakeOpenAI, bag_of_words


def test_choosing_the_embedder() -> None:
    assert create_embedder(None) is None
    assert create_embedder("none", url="http://127.0.0.1:1/v1") is None
    chosen = create_embedder(None, url="http://127.0.0.1:1/v1", model="m")
    assert isinstance(chosen, OpenAIEmbedder) and chosen.name == "openai:m"
    assert isinstance(create_embedder("LOCAL"), LocalEmbedder)
    with pytest.raises(EmbeddingError, match="ELIZA_EMBEDDINGS_URL"):
        create_embedder("openai")
    with pytest.raises(EmbeddingError, match="none, openai, local"):
        create_embedder("magic")


async def test_an_openai_compatible_endpoint_in_batches_and_in_order() -> None:
    with FakeOpenAI(api_key="sk-e") as fake:
        embedder: Embedder = OpenAIEmbedder(fake.base_url, "fake-embedding", "sk-e")
        texts = [f"text number {i}" for i in range(MAX_BATCH + 5)]
        vectors = await embedder.embed(texts)
        await embedder.aclose()
        assert vectors == [bag_of_words(t) for t in texts]  # the fake answers in reverse: put back by index
        sent = [r for r in fake.requests if r.path.endswith("/embeddings")]
        assert [len(r.body["input"]) for r in sent] == [MAX_BATCH, 5]


async def test_an_endpoint_that_fails_says_why() -> None:
    with FakeOpenAI(api_key="right") as fake:
        wrong_key = OpenAIEmbedder(fake.base_url, "m", "wrong")
        with pytest.raises(EmbeddingError, match=r"401.*Incorrect API key"):
            await wrong_key.embed(["x"])
        await wrong_key.aclose()
        fake.configure(api_key=None, mode="error", status=503, error_message="overloaded")
        failing = OpenAIEmbedder(fake.base_url, "m")
        with pytest.raises(EmbeddingError, match="503: overloaded"):
            await failing.embed(["x"])
        await failing.aclose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = OpenAIEmbedder(f"http://127.0.0.1:{port}/v1", "m", timeout_s=2)
    with pytest.raises(EmbeddingError, match="did not answer"):
        await gone.embed(["x"])
    await gone.aclose()


async def test_the_offline_model_gives_unit_vectors_near_for_near_meanings() -> None:
    embedder = LocalEmbedder()
    a, b, c = await embedder.embed(
        ["The deploy is on Thursday", "When do we ship to production?", "I like pancakes with syrup"]
    )
    assert len(a) == 384 and math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)

    def cos(x: list[float], y: list[float]) -> float:
        return sum(p * q for p, q in zip(x, y, strict=True))

    assert cos(a, b) > cos(a, c) + 0.2
    assert await embedder.embed([]) == []
    await embedder.aclose()
