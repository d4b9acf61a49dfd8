"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, Ollama, llama.cpp, vLLM, ...).

``base_url`` is the API root such as ``http://127.0.0.1:11434/v1``; texts are sent in batches of
at most ``MAX_BATCH`` (servers cap the inputs of one request) and the vectors put back in input
order by their ``index``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import httpx

from .embedder import EmbeddingError

MAX_BATCH: Final = 64
TIMEOUT_S: Final = 30.0


class OpenAIEmbedder:
    def __init__(self, base_url: str, model: str, api_key: str | None = None, *, timeout_s: float = TIMEOUT_S) -> None:
        self._url = base_url.rstrip("/") + "/embeddings"
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=timeout_s)

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), MAX_BATCH):
            vectors.extend(await self._batch(list(texts[start : start + MAX_BATCH])))
        return vectors

    async def _batch(self, texts: list[str]) -> list[list[float]]:
        try:
            answer = await self._client.post(self._url, json={"model": self._model, "input": texts})
        except httpx.HTTPError as exc:
            raise EmbeddingError(f"The embeddings endpoint {self._url} did not answer: {exc!r}") from exc
        if answer.status_code != 200:
            raise EmbeddingError(
                f"The embeddings endpoint {self._url} answered {answer.status_code}: {_error_text(answer)}"
            )
        try:
            items = answer.json()["data"]
            ordered = sorted(items, key=lambda item: int(item.get("index", 0)))
            vectors = [[float(x) for x in item["embedding"]] for item in ordered]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingError(f"The embeddings endpoint {self._url} answered something unreadable") from exc
        if len(vectors) != len(texts) or any(len(v) != len(vectors[0]) or not v for v in vectors):
            raise EmbeddingError(
                f"The embeddings endpoint {self._url} gave {len(vectors)} vectors for {len(texts)} texts"
                " (or vectors of different sizes)"
            )
        return vectors

    async def aclose(self) -> None:
        await self._client.aclose()


def _error_text(answer: httpx.Response) -> str:
    try:
        body: Any = answer.json()
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    except ValueError:
        message = None
    return str(message or answer.text[:200])
