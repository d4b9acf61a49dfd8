"""A classic ELIZA responder: the default model, embedded and fully offline.

It follows Weizenbaum's design (keyword ranking, decomposition and reassembly, pronoun
reflection, a memory of "my ..." topics) and runs the script in ``eliza_script.py``.

The runtime keeps no state between messages, so neither does this model: every reply is
computed by replaying the user turns of the conversation. Replaying rebuilds the topic
memory and how often each rule has been used, so replies cycle through their alternatives
and remembered topics come back exactly as if the responder had been running all along.
The same conversation and seed always give the same reply.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .base import GenerationRequest
from .eliza_script import DEFAULT_SCRIPT, Keyword, Rule, Script

__all__ = [
    "ElizaEngine",
    "ElizaModel",
    "ElizaReply",
    "mentions",
    "strip_address",
    "validate_script",
]

ReplySource = Literal["rule", "memory", "fallback", "empty"]

# "you" is the subject ("I") when a verb follows it or when a question inverts it
# ("are you ...", "do you ..."); otherwise it is the object ("me").
_SUBJECT_FOLLOWERS = frozenset(
    {
        "are",
        "were",
        "was",
        "am",
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "must",
        "may",
        "might",
        "have",
        "has",
        "had",
        "do",
        "does",
        "did",
        "not",
        "never",
        "always",
        "really",
        "just",
        "also",
        "still",
        "only",
        "seem",
        "seemed",
        "think",
        "thought",
        "feel",
        "felt",
        "know",
        "knew",
        "want",
        "wanted",
        "need",
        "needed",
        "like",
        "liked",
        "love",
        "loved",
        "hate",
        "hated",
        "make",
        "made",
        "say",
        "said",
        "keep",
        "kept",
        "understand",
        "understood",
        "remind",
        "reminded",
        "hear",
        "heard",
        "see",
        "saw",
        "tell",
        "told",
        "go",
        "went",
        "get",
        "got",
        "give",
        "gave",
        "look",
        "looked",
        "sound",
        "sounded",
        "care",
        "cared",
        "mean",
        "meant",
        "cannot",
    }
)
_QUESTION_OPENERS = frozenset(
    {
        "are",
        "were",
        "was",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "shall",
        "have",
        "has",
        "had",
    }
)
_MAX_CLAUSE_WORDS = 60
_MAX_INPUT_CHARS = 4000
_MAX_MEMORY = 10
_MAX_GOTO_DEPTH = 5

_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z0-9]+)*")
_CLAUSE_SPLIT_RE = re.compile(r"[.!?;,:()\[\]\"]+|\s+-+\s+|\bbut\b", re.IGNORECASE)
_PLACEHOLDER_RE = re.compile(r"\{(\d+|name)\}")
_SPACE_BEFORE_PUNCT_RE = re.compile(r"\s+([?.!,])")
_PIECE_RE = re.compile(r"\S+\s*")


@dataclass(frozen=True, slots=True)
class ElizaReply:
    """A reply plus why it was chosen (handy for tests and for the agents layer)."""

    text: str
    source: ReplySource
    keyword: str | None = None
    goodbye: bool = False


@dataclass(frozen=True, slots=True)
class _Token:
    norm: str
    text: str


@dataclass(frozen=True, slots=True)
class _Match:
    keyword: Keyword
    rule_id: str
    rule: Rule
    parts: tuple[tuple[_Token, ...], ...]


@dataclass(frozen=True, slots=True)
class _Analysis:
    match: _Match | None
    memory: _Match | None
    empty: bool


@dataclass(slots=True)
class _State:
    """What a running ELIZA would have remembered; rebuilt by replaying the turns."""

    uses: Counter[str] = field(default_factory=Counter)
    memory: deque[str] = field(default_factory=lambda: deque(maxlen=_MAX_MEMORY))


def _name_pattern(agent_name: str) -> str | None:
    name = agent_name.strip().lstrip("@")
    if not name:
        return None
    return r"@?" + re.escape(name) + r"(?!\w)"


def mentions(text: str, agent_name: str) -> bool:
    """Whether ``text`` names the agent (case-insensitive, whole word, optional ``@``)."""
    pattern = _name_pattern(agent_name)
    if pattern is None:
        return False
    return re.search(r"(?<!\w)" + pattern, text, re.IGNORECASE) is not None


def strip_address(text: str, agent_name: str) -> str:
    """Drop a leading "Eliza," / "@Eliza" or a trailing ", Eliza" so it is not analysed."""
    pattern = _name_pattern(agent_name)
    if pattern is None:
        return text.strip()
    text = re.sub(r"^\s*" + pattern + r"[\s,:;.!\-]*", "", text, flags=re.IGNORECASE)
    text = re.sub(r"(?:,\s*@?|\s+@)" + pattern.removeprefix("@?") + r"[\s.!?]*$", "", text, flags=re.IGNORECASE)
    return text.strip()


def _match_pattern(
    pattern: Sequence[str], words: Sequence[str], synonyms: Mapping[str, tuple[str, ...]]
) -> list[tuple[int, int]] | None:
    """Spans of the captured parts, preferring the leftmost occurrence of each literal."""

    def rec(pi: int, wi: int) -> list[tuple[int, int]] | None:
        if pi == len(pattern):
            return [] if wi == len(words) else None
        token = pattern[pi]
        if token in ("*", "+"):
            for end in range(wi + (token == "+"), len(words) + 1):
                rest = rec(pi + 1, end)
                if rest is not None:
                    return [(wi, end), *rest]
            return None
        if wi >= len(words):
            return None
        if token.startswith("@"):
            if words[wi] not in synonyms[token[1:]]:
                return None
            rest = rec(pi + 1, wi + 1)
            return None if rest is None else [(wi, wi + 1), *rest]
        return rec(pi + 1, wi + 1) if words[wi] == token else None

    return rec(0, 0)


def _captures(pattern: str) -> int:
    return sum(1 for token in pattern.split() if token in ("*", "+") or token.startswith("@"))


def validate_script(script: Script) -> None:
    """Fail fast on a broken script (unknown goto, group or part) instead of mid-chat."""
    names = {keyword.name for keyword in script.keywords}
    words = [word for keyword in script.keywords for word in keyword.words]
    duplicates = sorted({word for word in words if words.count(word) > 1})
    if duplicates:
        raise ValueError(f"keyword words used twice: {', '.join(duplicates)}")
    for required in (script.memory_keyword, script.goodbye_keyword):
        if required not in names:
            raise ValueError(f"script has no keyword {required!r}")
    if not script.fallbacks or not script.empty_replies:
        raise ValueError("script needs at least one fallback and one empty-input reply")
    rules = [(keyword.name, rule) for keyword in script.keywords for rule in keyword.rules]
    rules += [("memory", rule) for rule in script.memory_rules]
    for owner, rule in rules:
        where = f"{owner}: {rule.pattern!r}"
        for token in rule.pattern.split():
            if token.startswith("@") and token[1:] not in script.synonyms:
                raise ValueError(f"{where} uses unknown synonym group {token}")
        if rule.goto is not None:
            if rule.goto not in names:
                raise ValueError(f"{where} jumps to unknown keyword {rule.goto!r}")
            continue
        if not rule.replies:
            raise ValueError(f"{where} has neither replies nor goto")
        count = _captures(rule.pattern)
        for reply in rule.replies:
            for ref in _PLACEHOLDER_RE.findall(reply):
                if ref != "name" and not 1 <= int(ref) <= count:
                    raise ValueError(f"{where}: reply {reply!r} refers to missing part {{{ref}}}")


class ElizaEngine:
    """Pure, synchronous ELIZA: turns in, reply out. ``ElizaModel`` wraps it for streaming."""

    def __init__(self, script: Script = DEFAULT_SCRIPT) -> None:
        validate_script(script)
        self.script = script
        self._by_word: dict[str, Keyword] = {w: k for k in script.keywords for w in k.words}
        self._by_name: dict[str, Keyword] = {k.name: k for k in script.keywords}
        self._phrases = [
            (re.compile(r"(?<!\w)" + re.escape(old).replace(r"\ ", r"\s+") + r"(?!\w)", re.IGNORECASE), new)
            for old, new in script.phrase_substitutions
        ]
        # Every list of alternatives, in a fixed order, so a seed picks the same starts.
        self._cycles: dict[str, tuple[str, ...]] = {}
        for keyword in script.keywords:
            for index, rule in enumerate(keyword.rules):
                if rule.replies:
                    self._cycles[self._rule_id(keyword.name, index)] = rule.replies
        for index, rule in enumerate(script.memory_rules):
            self._cycles[self._rule_id("memory", index)] = rule.replies
        self._cycles["fallback"] = script.fallbacks
        self._cycles["empty"] = script.empty_replies

    @staticmethod
    def _rule_id(owner: str, index: int) -> str:
        return f"{owner}#{index}"

    # -- public API -------------------------------------------------------------------

    def respond(self, messages: Sequence[str], *, agent_name: str = "", seed: int | None = None) -> ElizaReply:
        """Answer the last of ``messages`` (user turns, oldest first), replaying the rest."""
        if not messages:
            messages = [""]
        cleaned = [strip_address(message[:_MAX_INPUT_CHARS], agent_name) for message in messages]
        if seed is None:
            seed = self.conversation_seed(cleaned, agent_name)
        starts = self._starts(seed)
        state = _State()
        reply = ElizaReply(text="", source="empty")
        for text in cleaned:
            reply = self._step(self._analyse(text), state, starts, agent_name)
        return reply

    @staticmethod
    def conversation_seed(messages: Sequence[str], agent_name: str) -> int:
        """A stable seed for a conversation: its first message and who is listening.

        The first message identifies the conversation and never changes as it grows, so the
        reassembly cycles keep turning instead of restarting at a new point every message.
        """
        first = messages[0] if messages else ""
        digest = hashlib.sha256(f"{agent_name.lower()}\x1f{first.lower()}".encode()).digest()
        return int.from_bytes(digest[:8], "big")

    def reflect(self, text: str) -> str:
        """Swap the point of view of a phrase ("i am sure you hate me" -> "you are sure I hate you")."""
        return self._reflect(self._tokens(text))

    # -- analysis ---------------------------------------------------------------------

    def _tokens(self, text: str) -> list[_Token]:
        tokens: list[_Token] = []
        for raw in _WORD_RE.findall(text):
            norm = raw.lower()
            substitute = self.script.word_substitutions.get(norm)
            if substitute is not None:
                tokens.extend(_Token(word, word) for word in substitute.split())
            else:
                tokens.append(_Token(norm, raw.lower() if raw.isupper() and len(raw) > 1 else raw))
        return tokens

    def _clauses(self, text: str) -> list[list[_Token]]:
        text = text.replace("\u2019", "'").replace("\u2018", "'")
        for pattern, replacement in self._phrases:
            text = pattern.sub(replacement, text)
        clauses = [self._tokens(part)[:_MAX_CLAUSE_WORDS] for part in _CLAUSE_SPLIT_RE.split(text)]
        return [clause for clause in clauses if clause]

    def _analyse(self, text: str) -> _Analysis:
        clauses = self._clauses(text)
        if not clauses:
            return _Analysis(match=None, memory=None, empty=True)
        found: dict[str, tuple[int, int, int]] = {}
        for clause_index, clause in enumerate(clauses):
            for position, token in enumerate(clause):
                keyword = self._by_word.get(token.norm)
                if keyword is not None and keyword.name not in found:
                    found[keyword.name] = (-keyword.rank, clause_index, position)
        for name in sorted(found, key=found.__getitem__):
            clause = clauses[found[name][1]]
            match = self._apply(self._by_name[name], clause, depth=0)
            if match is not None:
                memory = None
                if match.keyword.name == self.script.memory_keyword:
                    memory = self._first_match("memory", self.script.memory_rules, match.keyword, clause)
                return _Analysis(match=match, memory=memory, empty=False)
        return _Analysis(match=None, memory=None, empty=False)

    def _apply(self, keyword: Keyword, clause: Sequence[_Token], depth: int) -> _Match | None:
        words = [token.norm for token in clause]
        for index, rule in enumerate(keyword.rules):
            spans = _match_pattern(rule.pattern.split(), words, self.script.synonyms)
            if spans is None:
                continue
            if rule.goto is not None:
                if depth >= _MAX_GOTO_DEPTH:
                    return None
                return self._apply(self._by_name[rule.goto], clause, depth + 1)
            parts = tuple(tuple(clause[start:end]) for start, end in spans)
            return _Match(keyword, self._rule_id(keyword.name, index), rule, parts)
        return None

    def _first_match(
        self, owner: str, rules: Sequence[Rule], keyword: Keyword, clause: Sequence[_Token]
    ) -> _Match | None:
        words = [token.norm for token in clause]
        for index, rule in enumerate(rules):
            spans = _match_pattern(rule.pattern.split(), words, self.script.synonyms)
            if spans is not None:
                parts = tuple(tuple(clause[start:end]) for start, end in spans)
                return _Match(keyword, self._rule_id(owner, index), rule, parts)
        return None

    # -- replying ---------------------------------------------------------------------

    def _starts(self, seed: int) -> dict[str, int]:
        rng = random.Random(seed)
        return {key: rng.randrange(len(options)) for key, options in self._cycles.items()}

    def _next(self, key: str, state: _State, starts: Mapping[str, int]) -> str:
        options = self._cycles[key]
        choice = options[(starts[key] + state.uses[key]) % len(options)]
        state.uses[key] += 1
        return choice

    def _step(self, analysis: _Analysis, state: _State, starts: Mapping[str, int], agent_name: str) -> ElizaReply:
        if analysis.empty:
            return ElizaReply(self._finish(self._next("empty", state, starts)), "empty")
        match = analysis.match
        if match is None:
            if state.memory:
                return ElizaReply(state.memory.popleft(), "memory", self.script.memory_keyword)
            return ElizaReply(self._finish(self._next("fallback", state, starts)), "fallback")
        text = self._reassemble(self._next(match.rule_id, state, starts), match, agent_name)
        if analysis.memory is not None:
            memory = analysis.memory
            state.memory.append(self._reassemble(self._next(memory.rule_id, state, starts), memory, agent_name))
        keyword = match.keyword.name
        return ElizaReply(text, "rule", keyword, goodbye=keyword == self.script.goodbye_keyword)

    def _reassemble(self, template: str, match: _Match, agent_name: str) -> str:
        def fill(found: re.Match[str]) -> str:
            ref = found.group(1)
            if ref == "name":
                return agent_name.strip().lstrip("@") or "ELIZA"
            return self._reflect(match.parts[int(ref) - 1])

        return self._finish(_PLACEHOLDER_RE.sub(fill, template))

    @staticmethod
    def _finish(text: str) -> str:
        text = _SPACE_BEFORE_PUNCT_RE.sub(r"\1", " ".join(text.split()))
        return text[:1].upper() + text[1:]

    def _reflect(self, tokens: Sequence[_Token]) -> str:
        norms = [token.norm for token in tokens]
        out: list[str] = []
        for index, token in enumerate(tokens):
            word = token.norm
            before = norms[index - 1] if index > 0 else None
            after = norms[index + 1] if index + 1 < len(norms) else None
            if word == "you":
                subject = after in _SUBJECT_FOLLOWERS or before in _QUESTION_OPENERS
                out.append("I" if subject else "me")
            elif word == "are" and "you" in (before, after):
                out.append("am")
            elif word == "were" and "you" in (before, after):
                out.append("was")
            elif word == "was" and "i" in (before, after):
                out.append("were")
            elif word in self.script.reflections:
                out.append(self.script.reflections[word])
            else:
                out.append(token.text)
        return " ".join(out)


def _user_messages(request: GenerationRequest) -> list[str]:
    users = [turn.content for turn in request.turns if turn.role == "user"]
    if users:
        return users
    return [request.turns[-1].content] if request.turns else [""]


def _pieces(text: str) -> Iterable[str]:
    return _PIECE_RE.findall(text)


class ElizaModel:
    """The embedded ELIZA behind the ``TextModel`` interface; needs no network or keys."""

    name: str = "eliza"

    def __init__(self, *, word_delay_s: float = 0.0, script: Script = DEFAULT_SCRIPT) -> None:
        if word_delay_s < 0:
            raise ValueError("word_delay_s must not be negative")
        self.word_delay_s = word_delay_s
        self.engine = ElizaEngine(script)

    def reply(self, request: GenerationRequest) -> ElizaReply:
        """The whole reply at once; ``stream`` yields the same text word by word."""
        return self.engine.respond(_user_messages(request), agent_name=request.agent_name, seed=request.seed)

    async def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield the reply a word at a time (word plus following space), like a real model."""
        for piece in _pieces(self.reply(request).text):
            # Sleeping (even for 0 s) hands control back to the loop between words.
            await asyncio.sleep(self.word_delay_s)
            yield piece

    async def should_respond(self, request: GenerationRequest) -> bool:
        """ELIZA only speaks in a group when someone names it in the latest user message."""
        users = [turn for turn in request.turns if turn.role == "user"]
        if not users:
            return False
        return mentions(users[-1].content, request.agent_name)

    async def aclose(self) -> None:
        """Nothing to release; present for the interface."""
