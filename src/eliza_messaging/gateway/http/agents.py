"""Agents as ElizaOS lists them: ``GET /api/agents`` and ``GET /api/agents/:id``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...agents.registry import AgentRegistry
from ...agents.runtime import Agent
from ...messaging.errors import NotFound
from .deps import require_uuid
from .responses import JsonResponse, ok

router = APIRouter()


def _registry(request: Request) -> AgentRegistry:
    registry: AgentRegistry = request.app.state.agents
    return registry


SECRET_HINTS = ("secret", "key", "token", "password")
# The ElizaOS character fields shown as they are; anything else a file carries (client configs with bot
# tokens, say) is not, because this route needs no key unless ELIZA_SERVER_AUTH_TOKEN is set.
PUBLIC_CHARACTER_FIELDS = ("username", "topics", "adjectives", "postExamples", "plugins")


def agent_view(agent: Agent) -> dict[str, Any]:
    """The list entry, as ElizaOS gives it (``bio`` is its first line)."""
    character = agent.character
    return {
        "id": agent.id,
        "name": agent.name,
        "characterName": agent.name,
        "status": agent.status,
        "bio": character.bio[0] if character.bio else "",
        "model": agent.model.name,
    }


def agent_record(agent: Agent) -> dict[str, Any]:
    """The agent with its character's public fields; settings minus anything that looks like a credential."""
    character = agent.character
    settings = {
        k: v
        for k, v in character.settings.items()
        if not isinstance(v, dict) and not any(h in k.lower() for h in SECRET_HINTS)
    }
    return {
        **{k: character.extra[k] for k in PUBLIC_CHARACTER_FIELDS if k in character.extra},
        **agent_view(agent),
        "bio": list(character.bio),
        "system": character.system,
        "style": {k: list(v) for k, v in character.style.items()},
        "messageExamples": list(character.message_examples),
        "settings": settings,
        "enabled": True,
    }


@router.get("/api/agents", summary="All agents on this server")
async def list_agents(request: Request) -> JsonResponse:
    return ok({"agents": [agent_view(a) for a in _registry(request).agents.values()]})


@router.get("/api/agents/{agent_id}", summary="One agent")
async def get_agent(agent_id: str, request: Request) -> JsonResponse:
    require_uuid(agent_id, "agentId")
    agent = _registry(request).get(agent_id)
    if agent is None:
        raise NotFound(f"No agent {agent_id} on this server; GET /api/agents lists them.", field="agentId")
    return ok(agent_record(agent))
