"""Who is connected, as whom, and in which rooms: what ``userLeft`` needs on disconnect."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class SocketState:
    entity_id: str | None
    rooms: dict[str, str | None] = field(default_factory=dict)  # channel id -> entity id used there


class Presence:
    """Per-node registry of this node's sockets (each node only reports its own)."""

    def __init__(self) -> None:
        self._sockets: dict[str, SocketState] = {}

    def connect(self, sid: str, entity_id: str | None) -> SocketState:
        state = SocketState(entity_id)
        self._sockets[sid] = state
        return state

    def get(self, sid: str) -> SocketState:
        return self._sockets.setdefault(sid, SocketState(None))

    def join(self, sid: str, channel_id: str, entity_id: str | None) -> bool:
        """Record the join; True when the socket was not in the room already."""
        state = self.get(sid)
        fresh = channel_id not in state.rooms
        state.rooms[channel_id] = entity_id or state.rooms.get(channel_id) or state.entity_id
        return fresh

    def disconnect(self, sid: str) -> SocketState | None:
        return self._sockets.pop(sid, None)

    def __len__(self) -> int:
        return len(self._sockets)
