"""Building what the model reads: the character, what it recalls, then the channel's recent messages.

Recalled messages (older than the recent window, found by ``messaging.search.recall``) go in one
system turn of their own, marked as recalled and dated, oldest first, cut to a budget of about
``recall_tokens`` tokens (4 characters each), so the model can tell memory from conversation.
"""

from __future__ import annotations

from ..messaging.clock import iso
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


CHARS_PER_TOKEN = 4
RECALL_HEADER = "Recalled from earlier in this conversation (older messages, for reference):"


def recall_turn(recalled: list[Message], agent_id: str, budget_tokens: int) -> ChatTurn | None:
    """The recalled messages (best first) that fit the budget, as one system turn, oldest first."""
    budget = budget_tokens * CHARS_PER_TOKEN - len(RECALL_HEADER)
    chosen: list[tuple[Message, str]] = []
    for message in recalled:
        who = "you" if message.author_id == agent_id else (message.author_name or message.author_id)
        line = f"- [{iso(message.created_at)}] {who}: {' '.join(message.content.split())}"
        if len(line) > budget:
            if budget < 80:  # too little left for a useful piece
                break
            line = line[: budget - 1] + "…"
        chosen.append((message, line))
        budget -= len(line) + 1
    if not chosen:
        return None
    lines = [line for _, line in sorted(chosen, key=lambda pair: (pair[0].created_at, pair[0].seq))]
    return ChatTurn(role="system", content="\n".join([RECALL_HEADER, *lines]))


def build_request(
    character: Character,
    history: list[Message],
    trigger: Message,
    *,
    timeout_s: float,
    max_tokens: int = 512,
    seed: int | None = None,
    recalled: list[Message] | None = None,
    recall_tokens: int = 512,
) -> GenerationRequest:
    turns = [ChatTurn(role="system", content=system_prompt(character))]
    memory = recall_turn(recalled or [], character.id, recall_tokens)
    if memory is not None:
        turns.append(memory)
    turns += conversation(history, trigger, character.id)
    return GenerationRequest(
        turns=tuple(turns),
        agent_name=character.name,
        max_tokens=max_tokens,
        # None lets a deterministic model derive its seed from the conversation itself.
        seed=seed,
        timeout_s=timeout_s,
    )
