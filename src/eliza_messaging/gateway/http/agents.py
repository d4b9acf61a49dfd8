"""Agents as ElizaOS lists them: ``GET /api/agents`` and ``GET /api/agents/:id``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...messaging.directory import AgentDirectory, AgentProfile
from ...messaging.errors import NotFound
from ...types import JsonObject
from . import schemas
from .deps import require_uuid
from .docs import responses
from .responses import JsonResponse, ok

router = APIRouter()


def _directory(request: Request) -> AgentDirectory:
    directory: AgentDirectory = request.app.state.agents
    return directory


SECRET_HINTS = ("secret", "key", "token", "password")
# The ElizaOS character fields shown as they are; anything else a file carries (client configs with bot
# tokens, say) is not, because this route needs no key unless ELIZA_SERVER_AUTH_TOKEN is set.
PUBLIC_CHARACTER_FIELDS = ("username", "topics", "adjectives", "postExamples", "plugins", "knowledge")
# The list fields ElizaOS's agent form edits: present (empty when the character has none), so the form
# draws them rather than failing on a missing one.
LIST_FIELDS = ("topics", "adjectives", "postExamples", "plugins", "knowledge")


def agent_view(agent: AgentProfile) -> dict[str, Any]:
    """The list entry, as ElizaOS gives it (``bio`` is its first line)."""
    return {
        "id": agent.id,
        "name": agent.name,
        "characterName": agent.name,
        "status": agent.status,
        "bio": agent.bio[0] if agent.bio else "",
        "model": agent.model,
    }


def agent_record(agent: AgentProfile) -> dict[str, Any]:
    """The agent with its character's public fields; settings minus anything that looks like a credential."""
    settings = {
        k: v
        for k, v in agent.settings.items()
        if not isinstance(v, dict) and not any(h in k.lower() for h in SECRET_HINTS)
    }
    username = agent.extra.get("username")
    return {
        **{k: [] for k in LIST_FIELDS},
        **{k: agent.extra[k] for k in PUBLIC_CHARACTER_FIELDS if k in agent.extra},
        "username": username if isinstance(username, str) and username else agent.name,
        # an agent lives as long as this server has its character loaded: since start-up
        "createdAt": agent.loaded_at,
        "updatedAt": agent.loaded_at,
        **agent_view(agent),
        "bio": list(agent.bio),
        "system": agent.system,
        "style": {k: list(v) for k, v in agent.style.items()},
        "messageExamples": list(agent.message_examples),
        "settings": settings,
        "enabled": True,
    }


@router.get("/api/agents", summary="All agents on this server")
async def list_agents(request: Request) -> JsonResponse:
    return ok({"agents": [agent_view(a) for a in _directory(request).profiles()]})


@router.get("/api/agents/{agent_id}", summary="One agent")
async def get_agent(agent_id: str, request: Request) -> JsonResponse:
    require_uuid(agent_id, "agentId")
    agent = _directory(request).profile(agent_id)
    if agent is None:
        raise NotFound(f"No agent {agent_id} on this server; GET /api/agents lists them.", field="agentId")
    return ok(agent_record(agent))


@router.get(
    "/api/agents/{agent_id}/panels",
    summary="An agent's plugin panels (none here: no plugins)",
    responses=responses(200, schemas.Ok[list[JsonObject]], 404),
)
async def get_panels(agent_id: str, request: Request) -> JsonResponse:
    require_uuid(agent_id, "agentId")
    if _directory(request).profile(agent_id) is None:
        raise NotFound(f"No agent {agent_id} on this server; GET /api/agents lists them.", field="agentId")
    return ok([])
