"""What a search asks the store and what it gets back, the same for every backend.

The domain (``messaging/search.py``) reads the user's query into ``Term``s and decides which
channels the caller may see; each store turns that into its own full-text dialect (FTS5 or
PostgreSQL's tsquery) from these parts, never from raw user text, so no user input can make
a syntax error inside the database.
"""

from __future__ import annotations

import re
import unicodedata
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


_TOKEN: Final = re.compile(r"[^\W_]+")


def fold(word: str) -> str:
    """Case and accents folded, as the indexes fold them (FTS5's unicode61 remove_diacritics)."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)).casefold()


def snippet(text: str, terms: Sequence[Term]) -> str:
    """About ``SNIPPET_WORDS`` words of ``text`` around its first matched word, each matched word between
    ``SNIPPET_MARK``s; made here from the matched text, the same for every store (and cheaper than asking
    the database for it again)."""
    words: set[str] = set()
    prefixes: list[str] = []
    for term in terms:
        pieces = [fold(p) for p in _TOKEN.findall(term.text)]
        if term.prefix and pieces:
            prefixes.append(pieces.pop())
        words.update(pieces)
    spans = list(_TOKEN.finditer(text))
    hits = [i for i, m in enumerate(spans) if (w := fold(m.group())) in words or any(w.startswith(p) for p in prefixes)]
    if not spans:
        return text[:200]
    first = max(0, (hits[0] if hits else 0) - SNIPPET_WORDS // 4)
    last = min(len(spans), first + SNIPPET_WORDS)
    out, at = [], spans[first].start()
    for i in range(first, last):
        m = spans[i]
        out.append(text[at : m.start()])
        out.append(f"{SNIPPET_MARK}{m.group()}{SNIPPET_MARK}" if i in hits else m.group())
        at = m.end()
    end = spans[last - 1].end()
    return (
        ("…" if first > 0 else "") + "".join(out).lstrip() + ("…" if end < len(text.rstrip()) else text[end:].rstrip())
    )
