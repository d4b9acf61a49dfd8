"""Whether an agent takes part in a channel, and whether it answers a message there.

Takes part: the agent is a participant; the channel's id is the agent's id (the seeds'
"roomId should match the agent ID"); or a DM whose metadata targets it.
Answers: always in DM, API and session channels; in a group when named or replied to;
otherwise the model decides. Never itself; and replies to other agents are bounded in depth
so two agents cannot answer each other without end.
"""

from __future__ import annotations

import re
from enum import Enum

from ..messaging.channels import DIRECT_TYPES, targeted_ids
from ..records import Channel, Message


class Verdict(Enum):
    IGNORE = "ignore"
    ANSWER = "answer"
    ASK_MODEL = "ask_model"


def is_dm_like(channel: Channel) -> bool:
    return channel.type in DIRECT_TYPES or "sessionId" in channel.metadata


def takes_part(agent_id: str, channel: Channel, message: Message, participants: list[str]) -> bool:
    if agent_id in participants or channel.id == agent_id:
        return True
    targeted = targeted_ids(channel.metadata, message.metadata, message.raw_message)
    return agent_id in targeted


def names(text: str, agent_name: str) -> bool:
    """True when ``text`` names the agent as a word (``Eliza``, ``@eliza``, ``eliza,``)."""
    return re.search(rf"(?<![\w-])@?{re.escape(agent_name)}(?![\w-])", text, re.IGNORECASE) is not None


def reply_depth(message: Message) -> int:
    """How many agent replies in a row led to this message (0 for a person's message)."""
    if message.source_type != "agent_response":
        return 0
    depth = message.metadata.get("replyDepth")
    return depth if isinstance(depth, int) and depth > 0 else 1


def verdict(
    *,
    agent_id: str,
    agent_name: str,
    channel: Channel,
    message: Message,
    replied_to_author: str | None,
    max_agent_chain: int,
) -> Verdict:
    """The decision that needs no model; ASK_MODEL when only the model can tell."""
    if message.author_id == agent_id:
        return Verdict.IGNORE
    if reply_depth(message) >= max_agent_chain:
        return Verdict.IGNORE
    if is_dm_like(channel) or channel.id == agent_id:
        return Verdict.ANSWER
    if names(message.content, agent_name) or replied_to_author == agent_id:
        return Verdict.ANSWER
    if message.source_type == "agent_response":
        return Verdict.IGNORE  # in a group, agents only answer other agents that name them
    return Verdict.ASK_MODEL
