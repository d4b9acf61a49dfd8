"""What the outside may know of the agents: a directory the agents layer fills and the gateway reads.

The gateway lists agents without importing the agents layer (ARCHITECTURE.md: gateway may import
protocol and messaging only); ``agents.registry.AgentRegistry`` implements this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class AgentProfile:
    id: str
    name: str
    status: str
    model: str
    bio: tuple[str, ...] = ()
    system: str = ""
    style: dict[str, tuple[str, ...]] = field(default_factory=dict)
    message_examples: tuple[Any, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    loaded_at: int = 0  # epoch ms when this server loaded the character (ElizaOS's createdAt/updatedAt)


class AgentDirectory(Protocol):
    def profiles(self) -> list[AgentProfile]: ...

    def profile(self, agent_id: str) -> AgentProfile | None: ...
