"""Choosing the embedder from settings: ``ELIZA_EMBEDDINGS`` = ``none``, ``openai`` or ``local``.

Unset, it is ``openai`` when ``ELIZA_EMBEDDINGS_URL`` is set and ``none`` otherwise: the offline
model costs memory and CPU, so a server uses it only when asked to.
"""

from __future__ import annotations

from typing import Final

from .embedder import Embedder, EmbeddingError

KINDS: Final = ("none", "openai", "local")
DEFAULT_OPENAI_MODEL: Final = "text-embedding-3-small"


def create_embedder(
    kind: str | None, *, url: str | None = None, model: str | None = None, api_key: str | None = None
) -> Embedder | None:
    chosen = (kind or ("openai" if url else "none")).strip().lower()
    if chosen == "none":
        return None
    if chosen == "openai":
        if not url:
            raise EmbeddingError(
                "ELIZA_EMBEDDINGS=openai needs ELIZA_EMBEDDINGS_URL, the API root such as http://127.0.0.1:11434/v1."
            )
        from .openai_embedder import OpenAIEmbedder

        return OpenAIEmbedder(url, model or DEFAULT_OPENAI_MODEL, api_key)
    if chosen == "local":
        from .local_embedder import LocalEmbedder, model_files

        model_files()  # fail at start, with what to install, rather than at the first message
        return LocalEmbedder()
    raise EmbeddingError(f"ELIZA_EMBEDDINGS must be one of {', '.join(KINDS)}, not {kind!r}.")
