"""Turning text into vectors, behind one interface: an OpenAI-compatible endpoint or an offline model.

Search (``messaging/search.py``) and the indexer (``messaging/indexer.py``) only see ``Embedder``;
which backend runs is one setting (``ELIZA_EMBEDDINGS``, read by ``embedders.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class EmbeddingError(Exception):
    """The embedder could not turn the texts into vectors; the text says why."""


class Embedder(Protocol):
    @property
    def name(self) -> str:
        """What made the vectors (backend and model): vectors of different names are never compared."""
        ...

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; ``EmbeddingError`` when it cannot."""
        ...

    async def aclose(self) -> None: ...
