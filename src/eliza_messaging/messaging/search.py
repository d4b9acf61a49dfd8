"""Searching the messaging memory: by words (keyword), by meaning (semantic), or both (hybrid).

The caller's reach is decided here, as for reading history (``access.py``): one channel it may
read, or, with no channel given, every channel it may read (all of them when data isolation is
off). The query language is small and can always be parsed or refused with a clear message:
words (all must match), ``"a phrase"``, ``prefix*``. Hybrid ranks by reciprocal-rank fusion of
both lists (each message scores 1/(60 + its rank) in each list it is in), so neither score's
scale matters. Agents recall older messages through ``recall`` with the same machinery.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace
from typing import Final, TypeVar

from ..protocol.types import ChannelType
from ..records import Channel, Message
from ..store.base import Store, StoreError
from ..store.search import KeywordQuery, SearchHit, SearchScope, Term
from .access import Access
from .channel_cache import ChannelCache
from .channels import targeted_ids
from .errors import InvalidPayload, SearchUnavailable, SemanticSearchOff, StorageUnavailable
from .identity import Caller
from .indexer import Indexer

log = logging.getLogger(__name__)
T = TypeVar("T")

MODES: Final = ("keyword", "semantic", "hybrid")
MAX_LIMIT: Final = 100
MAX_QUERY_CHARS: Final = 500
MAX_TERMS: Final = 32
RRF_K: Final = 60
SNIPPET_CHARS: Final = 160
MAX_OTHER_DMS: Final = 50  # earlier DM channels with the same person that recall searches
RECALL_WORDS: Final = 16  # the longest distinct words of the incoming message that recall searches for
_TOKENS: Final = re.compile(r'"([^"]*)"(\*?)|([^\s"]+)')
_WORD: Final = re.compile(r"[^\W_]{3,}")


@dataclass(frozen=True, slots=True)
class SearchResults:
    hits: list[SearchHit]
    mode: str  # the mode that answered
    notice: str | None = None  # why it differs from the one asked for


def parse_query(q: str | None) -> KeywordQuery:
    """``q`` as terms, or ``InvalidPayload`` saying what is wrong with it and how to write it."""
    text = (q or "").strip()
    if not text:
        raise InvalidPayload('q is empty: give the words to search for, e.g. q=deploy or q="release notes".', field="q")
    if len(text) > MAX_QUERY_CHARS:
        raise InvalidPayload(f"q is {len(text)} characters; at most {MAX_QUERY_CHARS} are searched.", field="q")
    if text.count('"') % 2:
        raise InvalidPayload(
            'q has an unbalanced double quote: close the phrase ("like this") or remove the quote.', field="q"
        )
    terms: list[Term] = []
    for phrase, star, word in _TOKENS.findall(text):
        if word:
            prefix = word.endswith("*")
            stem = word.rstrip("*")
            if _has_word(stem):
                terms.append(Term(stem, prefix=prefix))
        elif star:
            raise InvalidPayload(
                f'q: "{phrase[:40]}"* is a phrase with *; a prefix applies to one word, like deplo*.', field="q"
            )
        elif _has_word(phrase):
            terms.append(Term(" ".join(phrase.split()), phrase=True))
    if not terms:
        raise InvalidPayload("q has no letters or digits to search for.", field="q")
    if len(terms) > MAX_TERMS:
        raise InvalidPayload(f"q has {len(terms)} words or phrases; at most {MAX_TERMS} are searched.", field="q")
    return KeywordQuery(tuple(terms))


def _has_word(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


def fuse(lists: Sequence[Sequence[SearchHit]], limit: int) -> list[SearchHit]:
    """Reciprocal-rank fusion: the score is the sum of 1/(RRF_K + rank) over the lists; the first
    list's snippet (the keyword one, with its marks) is kept when a message is in several."""
    scores: dict[str, float] = {}
    first: dict[str, SearchHit] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            scores[hit.message.id] = scores.get(hit.message.id, 0.0) + 1.0 / (RRF_K + rank)
            first.setdefault(hit.message.id, hit)
    ranked = sorted(scores, key=lambda message_id: scores[message_id], reverse=True)[:limit]
    return [replace(first[message_id], score=scores[message_id]) for message_id in ranked]


def _with_snippet(hit: SearchHit) -> SearchHit:
    if hit.snippet:
        return hit
    text = " ".join(hit.message.content.split())
    return replace(hit, snippet=text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rstrip() + "…")


class Search:
    def __init__(self, store: Store, access: Access, channels: ChannelCache, indexer: Indexer | None = None) -> None:
        self._store = store
        self._access = access
        self._channels = channels
        self.indexer = indexer

    @property
    def semantic(self) -> bool:
        """Whether vectors are kept and can be searched (an embedder is configured and the store has room)."""
        return self.indexer is not None and self.indexer.ready

    @property
    def default_mode(self) -> str:
        return "hybrid" if self.semantic else "keyword"

    async def search(
        self,
        caller: Caller,
        q: str | None,
        *,
        channel_id: str | None = None,
        author_id: str | None = None,
        before: int | None = None,
        after: int | None = None,
        mode: str | None = None,
        limit: int = 20,
    ) -> SearchResults:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidPayload(f"limit must be between 1 and {MAX_LIMIT}, but got {limit}.", field="limit")
        if mode is not None and mode not in MODES:
            raise InvalidPayload(f"mode must be one of {', '.join(MODES)}, but got '{mode[:20]}'.", field="mode")
        query = parse_query(q)
        scope = SearchScope(
            channel_ids=await self._reach(caller, channel_id), author_id=author_id, before=before, after=after
        )
        chosen = mode or self.default_mode
        if chosen == "semantic":
            if not self.semantic:
                raise SemanticSearchOff(self._why_no_semantic() + " Search with mode=keyword instead.", field="mode")
            hits = await self._semantic(str(q), scope, limit)
            return SearchResults([_with_snippet(h) for h in hits], "semantic")
        keyword = await self._keyword(query, scope, limit if chosen == "keyword" else max(limit * 2, 20))
        if chosen == "keyword":
            return SearchResults(keyword, "keyword")
        if not self.semantic:
            return SearchResults(keyword[:limit], "keyword", self._why_no_semantic() + " Answered by keyword alone.")
        try:
            semantic = await self._semantic(str(q), scope, max(limit * 2, 20))
        except SearchUnavailable as exc:
            return SearchResults(keyword[:limit], "keyword", exc.message + " Answered by keyword alone.")
        return SearchResults([_with_snippet(h) for h in fuse([keyword, semantic], limit)], "hybrid")

    async def recall(
        self, channel: Channel, trigger: Message, *, agent_id: str, exclude_ids: Sequence[str], limit: int
    ) -> list[Message]:
        """The older messages most related to ``trigger``: of its channel and, in a DM, of the agent's earlier
        DMs with the same person; best first. Any word of the trigger may match (ranked by how rare and how
        often), and its meaning when an embedder is configured."""
        words = sorted(dict.fromkeys(w.lower() for w in _WORD.findall(trigger.content)), key=len, reverse=True)
        channel_ids = [channel.id]
        if channel.type == ChannelType.DM:
            channel_ids += await self._other_dms(channel.id, agent_id, trigger.author_id)
        scope = SearchScope(channel_ids=channel_ids, before=trigger.created_at, exclude_ids=[*exclude_ids, trigger.id])
        lists: list[list[SearchHit]] = []
        if words:
            terms = tuple(Term(w) for w in words[:RECALL_WORDS])
            lists.append(await self._keyword(KeywordQuery(terms, any_term=True), scope, limit * 2))
        if self.semantic and trigger.content.strip():
            try:
                lists.append(await self._semantic(trigger.content, scope, limit * 2))
            except SearchUnavailable:
                log.info("recall without meaning: the embedder failed")
        return [hit.message for hit in fuse(lists, limit)]

    async def _reach(self, caller: Caller, channel_id: str | None) -> list[str] | None:
        """The channels this caller may search (None: all)."""
        if channel_id is not None:
            await self._access.may_read(caller, channel_id)
            return [channel_id]
        if not self._access.restricted(caller):
            return None
        if caller.entity_id is None:
            self._access.identified(caller, "(any)")  # raises Forbidden with how to say who you are
        assert caller.entity_id is not None
        return await self._stored(self._store.member_channels(caller.entity_id))

    async def _other_dms(self, channel_id: str, agent_id: str, person_id: str) -> list[str]:
        """The person's other DM channels with this agent (a participant there, or the one it targets)."""
        agents_channels = set(await self._stored(self._store.member_channels(agent_id)))
        found = []
        for other in await self._stored(self._store.member_channels(person_id)):
            if other == channel_id:
                continue
            channel = await self._channels.get(other)
            if channel is None or channel.type != ChannelType.DM:
                continue
            if other in agents_channels or agent_id in targeted_ids(channel.metadata):
                found.append(other)
        return found[:MAX_OTHER_DMS]

    async def _keyword(self, query: KeywordQuery, scope: SearchScope, limit: int) -> list[SearchHit]:
        return await self._stored(self._store.keyword_search(query, scope, limit))

    async def _semantic(self, text: str, scope: SearchScope, limit: int) -> list[SearchHit]:
        assert self.indexer is not None
        try:
            vector = (await self.indexer.embedder.embed([text.replace('"', " ")]))[0]
        except Exception as exc:
            log.warning("embedding the query failed", exc_info=True)
            raise SearchUnavailable(f"The embedder could not embed the query ({type(exc).__name__}).") from exc
        return await self._stored(self._store.vector_search(self.indexer.embedder.name, vector, scope, limit))

    def _why_no_semantic(self) -> str:
        if self.indexer is None:
            return (
                "Semantic search needs an embedder, and none is configured: set ELIZA_EMBEDDINGS=local (with"
                " pip install 'eliza-messaging[semantic]') or ELIZA_EMBEDDINGS_URL (an OpenAI-compatible API)."
            )
        return f"Semantic search is off on this server: {self.indexer.unavailable or 'its indexer is not running'}."

    @staticmethod
    async def _stored(call: Awaitable[T]) -> T:
        try:
            return await call
        except StoreError as exc:
            log.warning("search failed in the store", exc_info=True)
            raise StorageUnavailable("The search could not be run by the database; try again.") from exc
