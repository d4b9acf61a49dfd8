"""What a search asks the store and what it gets back, the same for every backend.

The domain (``messaging/search.py``) reads the user's query into ``Term``s and decides which
channels the caller may see; each store turns that into its own full-text dialect (FTS5 or
PostgreSQL's tsquery) from these parts, never from raw user text, so no user input can make
a syntax error inside the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..records import Message

SNIPPET_MARK: Final = "**"  # around each matched word in a keyword snippet (Markdown bold)
SNIPPET_WORDS: Final = 16


@dataclass(frozen=True, slots=True)
class Term:
    """One word (``prefix``: any word starting with it) or one phrase (its words in this order)."""

    text: str
    phrase: bool = False
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class KeywordQuery:
    """Every term must match (``any_term``: at least one, ranked by how well; used for agents' recall)."""

    terms: tuple[Term, ...]
    any_term: bool = False


@dataclass(frozen=True, slots=True)
class SearchScope:
    """Which messages may match: ``channel_ids`` None means every channel; times are epoch ms, exclusive."""

    channel_ids: Sequence[str] | None = None
    author_id: str | None = None
    before: int | None = None
    after: int | None = None
    exclude_ids: Sequence[str] = ()


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A stored message that matched; a higher ``score`` is a better match (keyword: the negated bm25 or
    ts_rank_cd; semantic: cosine similarity)."""

    message: Message
    score: float
    snippet: str


class VectorsUnavailable(Exception):
    """The store cannot keep vectors here (the extension or its Python package is missing); the text says
    what to install."""
