"""Who is asking, and whether they may speak as the ids they name.

A caller is the entity it has shown (a socket's handshake entity, a verified token's subject,
or for a seed-dialect socket the first entity it used) plus whether it holds the server token.
The server token marks a trusted caller: this server's own code, or an agent runtime that may
act for agents. Everyone else speaks only as itself, never as an agent, and never with the
agents' own ``source``. The same checks run for Socket.IO and REST.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..protocol.types import DEFAULT_SERVER_ID
from ..store.base import Store
from .errors import IdentityMismatch

if TYPE_CHECKING:
    from .presence import Presence

AGENT_SOURCE = "agent_response"
# How long a server's list of agents is trusted before it is read again (other nodes may register agents).
AGENTS_TTL_S = 2.0


@dataclass(frozen=True, slots=True)
class Caller:
    """``entity_id``: who the caller is (None: not known yet, or anonymous); ``trusted``: the server token;
    ``verified``: the entity comes from a signed token; ``basis``: how we know, in words for error messages."""

    entity_id: str | None = None
    trusted: bool = False
    verified: bool = False
    basis: str = ""

    @property
    def anonymous(self) -> bool:
        return self.entity_id is None and not self.trusted


ANONYMOUS = Caller()
SERVER = Caller(trusted=True, basis="the server token")


def caller_record(caller: Caller) -> dict[str, object]:
    """A caller as JSON, kept with a socket's session for connection-state recovery."""
    return {"entity": caller.entity_id, "trusted": caller.trusted, "verified": caller.verified, "basis": caller.basis}


def caller_from_record(record: object) -> Caller:
    """The caller ``caller_record`` kept (anonymous for anything else)."""
    if not isinstance(record, dict):
        return ANONYMOUS
    entity = record.get("entity")
    return Caller(
        entity if isinstance(entity, str) else None,
        trusted=record.get("trusted") is True,
        verified=record.get("verified") is True,
        basis=str(record.get("basis") or ""),
    )


def same_id(a: str, b: str) -> bool:
    return a.lower() == b.lower()


def mismatch(field: str, claimed: str, caller: Caller) -> IdentityMismatch:
    own = caller.entity_id
    return IdentityMismatch(
        f"{field} is {claimed}, but you are {own} ({caller.basis}): a client may only speak as itself."
        f" Send {field}: '{own}', or use another connection (or token) for {claimed}.",
        field=field,
    )


class Identity:
    """Checks that a caller acts as itself; binds a seed-dialect socket to the first entity it uses."""

    def __init__(self, store: Store, presence: Presence) -> None:
        self._store = store
        self._presence = presence
        self._agents: dict[str, tuple[float, frozenset[str]]] = {}  # server id -> (read at, agent ids)

    async def is_agent(self, entity_id: str, server_id: str = DEFAULT_SERVER_ID) -> bool:
        """An agent registered on the default server (every agent of this server) or on ``server_id``."""
        wanted = entity_id.lower()
        for server in {DEFAULT_SERVER_ID, server_id}:
            if wanted in await self._agents_of(server):
                return True
        return False

    def forget_agents(self) -> None:
        """Agents were registered or removed on this node: read them again."""
        self._agents.clear()

    async def _agents_of(self, server_id: str) -> frozenset[str]:
        now = time.monotonic()
        cached = self._agents.get(server_id)
        if cached is not None and now - cached[0] < AGENTS_TTL_S:
            return cached[1]
        agents = frozenset(a.lower() for a in await self._store.list_server_agents(server_id))
        if len(self._agents) > 1000:  # one entry per message server; bounded all the same
            self._agents.clear()
        self._agents[server_id] = (now, agents)
        return agents

    async def check_connect(self, caller: Caller) -> None:
        """A connection may not claim an agent's id without the server token."""
        if caller.trusted or caller.entity_id is None:
            return
        if await self.is_agent(caller.entity_id):
            raise IdentityMismatch(
                f"{caller.entity_id} is an agent of this server; only the server token may connect as an agent"
                " (agents post their replies through POST /api/messaging/submit). Connect with your own entity id.",
                field="entityId",
            )

    async def check(
        self,
        caller: Caller,
        claimed: str,
        field: str,
        *,
        sid: str | None = None,
        server_id: str = DEFAULT_SERVER_ID,
        source: str | None = None,
    ) -> Caller:
        """Refuse acting as someone else; the caller as it now stands (a socket bound to ``claimed``)."""
        if caller.trusted:
            return caller
        if source == AGENT_SOURCE:
            raise IdentityMismatch(
                f"source '{AGENT_SOURCE}' is reserved for agents' replies; a user's message may not carry it."
                " Leave source out (or use your client's name); agents post through POST /api/messaging/submit"
                " or with the server token.",
                field="source",
            )
        if caller.entity_id is not None and not same_id(claimed, caller.entity_id):
            raise mismatch(field, claimed, caller)
        if await self.is_agent(claimed, server_id):
            raise IdentityMismatch(
                f"{field} {claimed} is an agent of this server; only the agent itself (with the server token)"
                f" may speak as it. Send {field} with your own entity id.",
                field=field,
            )
        if caller.entity_id is None and sid is not None:
            bound = self._presence.bind(sid, claimed)  # synchronous: two first sends cannot both bind
            if bound is not None and not same_id(bound.entity_id or claimed, claimed):
                raise mismatch(field, claimed, bound)
            return bound or caller
        return caller
