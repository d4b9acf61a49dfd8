"""The one interface every text model implements.

The agents layer builds a :class:`GenerationRequest` from a character and the channel's
recent messages, and reads the reply back as a stream of text pieces. Models import nothing
else of ours, so a new backend is one module beside this one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]
ModelSize = Literal["small", "large"]


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """One turn of the conversation handed to a model."""

    role: Role
    content: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """Everything a model needs to write one reply.

    ``turns`` is oldest first and ends with the message being answered. ``agent_name`` lets
    a model recognise itself being addressed; ``seed`` makes deterministic models repeatable.
    """

    turns: tuple[ChatTurn, ...]
    agent_name: str
    size: ModelSize = "small"
    max_tokens: int = 512
    temperature: float = 0.7
    seed: int | None = None
    timeout_s: float = 60.0
    stop: tuple[str, ...] = field(default_factory=tuple)


class ModelError(Exception):
    """A model could not produce (the rest of) a reply; the message says why, for users."""


@runtime_checkable
class TextModel(Protocol):
    """A text generator. Implementations: ``eliza.ElizaModel``, ``openai.OpenAIModel``."""

    name: str

    def stream(self, request: GenerationRequest) -> AsyncIterator[str]:
        """Yield the reply piece by piece; raise :class:`ModelError` on failure or timeout."""
        ...

    async def should_respond(self, request: GenerationRequest) -> bool:
        """In a group channel where the agent was neither named nor replied to: answer or not?"""
        ...

    async def aclose(self) -> None:
        """Release connections held by the model."""
        ...
