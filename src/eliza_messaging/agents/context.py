"""Building what the model reads: the character, then the channel's recent messages, oldest first."""

from __future__ import annotations

from ..models.base import ChatTurn, GenerationRequest, Role
from ..records import Message
from .character import Character


def system_prompt(character: Character) -> str:
    parts = [character.system or f"You are {character.name}."]
    if character.bio:
        parts.append("About you: " + " ".join(character.bio))
    style = [*character.style.get("all", ()), *character.style.get("chat", ())]
    if style:
        parts.append("Style: " + "; ".join(style) + ".")
    parts.append(
        f"You are {character.name}, chatting in a channel with people and possibly other agents."
        " Reply with the message text only."
    )
    return "\n".join(parts)


def conversation(history: list[Message], trigger: Message, agent_id: str) -> list[ChatTurn]:
    """Turns up to and including ``trigger`` (``history`` is newest first, as the store lists it)."""
    turns: list[ChatTurn] = []
    for message in reversed(history):
        role: Role = "assistant" if message.author_id == agent_id else "user"
        turns.append(ChatTurn(role=role, content=message.content, name=message.author_name or None))
        if message.id == trigger.id:
            break
    if not turns or turns[-1].content != trigger.content or turns[-1].role != "user":
        turns.append(ChatTurn(role="user", content=trigger.content, name=trigger.author_name or None))
    return turns


def build_request(
    character: Character,
    history: list[Message],
    trigger: Message,
    *,
    timeout_s: float,
    max_tokens: int = 512,
    seed: int | None = None,
) -> GenerationRequest:
    turns = [ChatTurn(role="system", content=system_prompt(character)), *conversation(history, trigger, character.id)]
    return GenerationRequest(
        turns=tuple(turns),
        agent_name=character.name,
        max_tokens=max_tokens,
        # None lets a deterministic model derive its seed from the conversation itself.
        seed=seed,
        timeout_s=timeout_s,
    )
