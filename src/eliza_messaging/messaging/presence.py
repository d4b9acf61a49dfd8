"""Who is connected, as whom, and in which rooms: what ``userLeft`` needs on disconnect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .identity import Caller

SEED_BASIS = "the first entity this socket used"


@dataclass(slots=True)
class SocketState:
    caller: Caller
    rooms: dict[str, str | None] = field(default_factory=dict)  # channel id -> entity id used there
    pid: str | None = None  # its private session id (connection-state recovery), None without

    @property
    def entity_id(self) -> str | None:
        return self.caller.entity_id


class Presence:
    """Per-node registry of this node's sockets (each node only reports its own)."""

    def __init__(self) -> None:
        self._sockets: dict[str, SocketState] = {}
        # told of each change of a socket's rooms (None: it disconnected), for other nodes (nodes.py)
        self.on_change: Callable[[str, SocketState | None], None] | None = None

    def connect(
        self, sid: str, caller: Caller, *, pid: str | None = None, rooms: dict[str, str | None] | None = None
    ) -> SocketState:
        """A new socket (or a recovered one, with its ``rooms`` back); recorded at once when it has a pid."""
        state = SocketState(caller, dict(rooms or {}), pid)
        self._sockets[sid] = state
        if pid is not None and self.on_change is not None:
            self.on_change(sid, state)
        return state

    def find(self, sid: str) -> SocketState | None:
        """The socket's state, or None when it is not connected (never creates one)."""
        return self._sockets.get(sid)

    def entity_of(self, sid: str) -> str | None:
        state = self._sockets.get(sid)
        return state.entity_id if state else None

    def caller(self, sid: str) -> Caller:
        """Who the socket is; a socket that is gone is nobody."""
        state = self._sockets.get(sid)
        return state.caller if state else Caller()

    def bind(self, sid: str, entity_id: str) -> Caller | None:
        """A socket without a handshake entity becomes the first entity it uses; its caller after that."""
        state = self._sockets.get(sid)
        if state is None:
            return None
        if state.caller.entity_id is None and not state.caller.trusted:
            state.caller = Caller(entity_id, verified=False, basis=SEED_BASIS)
            if state.pid is not None and self.on_change is not None:
                self.on_change(sid, state)
        return state.caller

    def join(self, sid: str, channel_id: str, entity_id: str | None) -> bool:
        """Record the join; True when the socket was not in the room already (False if it is gone)."""
        state = self._sockets.get(sid)
        if state is None:
            return False
        fresh = channel_id not in state.rooms
        state.rooms[channel_id] = entity_id or state.rooms.get(channel_id) or state.entity_id
        if fresh and self.on_change is not None:
            self.on_change(sid, state)
        return fresh

    def in_room(self, channel_id: str) -> list[tuple[str, Caller]]:
        """This node's sockets in the room, with who each is."""
        return [(sid, s.caller) for sid, s in self._sockets.items() if channel_id in s.rooms]

    def leave(self, sid: str, channel_id: str) -> None:
        state = self._sockets.get(sid)
        if state is not None and state.rooms.pop(channel_id, None) is not None and self.on_change is not None:
            self.on_change(sid, state)

    def disconnect(self, sid: str) -> SocketState | None:
        state = self._sockets.pop(sid, None)
        if state is not None and (state.rooms or state.pid) and self.on_change is not None:
            self.on_change(sid, None)
        return state

    def sockets(self) -> list[tuple[str, SocketState]]:
        """This node's sockets with their state (a copy: safe to iterate while sockets come and go)."""
        return list(self._sockets.items())

    def __len__(self) -> int:
        return len(self._sockets)
