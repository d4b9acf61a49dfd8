"""Connections per client address, capped so one host cannot take every socket the server has.

The address is the ASGI scope's client: the peer, or the address uvicorn read from proxy headers
when the proxy is trusted (uvicorn's ``--forwarded-allow-ips`` / ``FORWARDED_ALLOW_IPS``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

UNKNOWN_ADDRESS = "unknown"


def client_address(environ: dict[str, Any]) -> str:
    """The client's address from the request's ASGI scope (``unknown`` when the server gives none)."""
    scope = environ.get("asgi.scope")
    client = scope.get("client") if isinstance(scope, dict) else None
    if client:
        return str(client[0])
    return str(environ.get("REMOTE_ADDR") or UNKNOWN_ADDRESS)


class ConnectionsPerAddress:
    """Counts open connections by address; ``limit`` 0 counts nothing and refuses nothing."""

    def __init__(self, limit: int) -> None:
        self.limit = max(0, limit)
        self._open: Counter[str] = Counter()

    def acquire(self, address: str) -> bool:
        """Count one more connection from ``address``; False (and nothing counted) when at the limit."""
        if self.limit == 0:
            return True
        if self._open[address] >= self.limit:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str) -> None:
        if self.limit == 0 or self._open[address] <= 0:
            return
        self._open[address] -= 1
        if self._open[address] == 0:
            del self._open[address]

    def count(self, address: str) -> int:
        return self._open.get(address, 0)

    def refusal(self, address: str) -> str:
        """The sentence a refused client reads."""
        return (
            f"Too many connections from {address}: this server accepts {self.limit} at a time from one address"
            " (ELIZA_MAX_CONNECTIONS_PER_IP). Close a connection you no longer use and connect again."
        )
