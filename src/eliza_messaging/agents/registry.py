"""All agents of this server: built from characters at start, registered in the memory, listed by REST."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

from ..messaging.clock import now_ms
from ..messaging.directory import AgentProfile
from ..messaging.identity import SERVER
from ..messaging.servers import MessageServers
from ..messaging.service import MessagingService
from ..models.factory import create_model
from ..protocol.types import DEFAULT_SERVER_ID
from .character import Character
from .runtime import Agent, AgentOptions

log = logging.getLogger(__name__)


class AgentRegistry:
    def __init__(
        self,
        characters: Sequence[Character],
        messaging: MessagingService,
        *,
        default_provider: str = "eliza",
        options: AgentOptions | None = None,
        env: Mapping[str, str] = os.environ,
    ) -> None:
        names = [c.name.lower() for c in characters]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"Two characters share the name {duplicates[0]!r}; give each agent its own name.")
        self.messaging = messaging
        self.loaded_at = now_ms()
        self.agents: dict[str, Agent] = {}
        for character in characters:
            provider = character.setting("model_provider") or character.setting("modelProvider") or default_provider
            model = create_model(
                provider, {k: str(v) for k, v in character.settings.items() if not isinstance(v, dict)}, env
            )
            self.agents[character.id] = Agent(character, model, messaging, options)

    async def start(self) -> None:
        """Register every agent on the default message server and subscribe it to the queue."""
        servers = MessageServers(self.messaging)
        for agent in self.agents.values():
            await servers.add_agent(DEFAULT_SERVER_ID, agent.id, caller=SERVER)  # our own agents
            self.messaging.queue.subscribe(f"agent:{agent.id}", agent.on_message)
            log.info("agent ready", extra={"agent": agent.name, "agent_id": agent.id, "model": agent.model.name})
        self.messaging.identity.forget_agents()

    @property
    def busy(self) -> bool:
        """Some agent has a message waiting or a reply in progress."""
        return any(agent.busy for agent in self.agents.values())

    async def close(self) -> None:
        for agent in self.agents.values():
            await agent.close()

    def profiles(self) -> list[AgentProfile]:
        return [_profile(a, self.loaded_at) for a in self.agents.values()]

    def profile(self, agent_id: str) -> AgentProfile | None:
        agent = self.agents.get(agent_id)
        return _profile(agent, self.loaded_at) if agent else None

    def get(self, agent_id: str) -> Agent | None:
        return self.agents.get(agent_id)


def _profile(agent: Agent, loaded_at: int) -> AgentProfile:
    c = agent.character
    return AgentProfile(
        id=agent.id,
        name=agent.name,
        status=agent.status,
        model=agent.model.name,
        bio=c.bio,
        system=c.system,
        style=c.style,
        message_examples=c.message_examples,
        settings=c.settings,
        extra=c.extra,
        loaded_at=loaded_at,
    )
