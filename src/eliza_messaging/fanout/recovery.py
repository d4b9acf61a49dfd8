"""Socket.IO connection-state recovery on one node: the packet log and the saved sessions, in memory.

socket.io-client >= 4.6 keeps the last string argument of any event as its offset and, once the
server's CONNECT gave it a private session id (``pid``), reconnects with ``{pid, offset}``. The server
answers with the same ``pid`` (the client sets ``recovered``) when it still has the session and the
offset, and first sends the broadcasts of the session's rooms logged after that offset. So each
room broadcast is logged once with an offset (``PacketLog``: bounded by count and by the recovery
window), and a socket that drops its transport leaves its session here (``MemorySessions``, bounded
the same way) for a reconnect to claim once. ``fanout/redis_sessions.py`` does the same across nodes.

Offsets look like Redis stream ids (``"<int>-<int>"``) on one node and several alike; they compare as
pairs of integers (``offset_key``).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Final

import orjson

from ..types import JsonObject

DEFAULT_LOG_MAX: Final = 10_000
DEFAULT_SESSIONS_MAX: Final = 100_000


def offset_key(offset: str) -> tuple[int, int] | None:
    """The order of an offset (``"ms-seq"`` or ``"n"``), or None when it is not one of ours."""
    head, _, tail = offset.partition("-")
    if not head.isdigit() or (tail and not tail.isdigit()) or len(offset) > 48:
        return None
    return int(head), int(tail or 0)


def with_offset(text: str, offset: str) -> str:
    """An encoded EVENT (``2["event",...]``) with ``offset`` as its last argument: what the client keeps."""
    return f'{text[:-1]},"{offset}"]'


def new_pid(node: str, sid: str) -> str:
    """A private session id: the node that held the socket, its sid, and a secret only the client has."""
    return f"{node}.{sid}.{secrets.token_urlsafe(18)}"


def pid_parts(pid: str) -> tuple[str, str] | None:
    """(node, sid) of a pid made by ``new_pid``; None for anything else."""
    parts = pid.split(".")
    if len(parts) != 3 or not all(parts) or len(pid) > 200:
        return None
    return parts[0], parts[1]


@dataclass(frozen=True, slots=True)
class Logged:
    """One logged broadcast: its offset, the text without the offset, its room and the sids it skipped."""

    offset: str
    text: str
    room: str | None
    skip: tuple[str, ...]
    at: float

    def reaches(self, rooms: set[str]) -> bool:
        """Whether a socket in ``rooms`` (its sid is one of them) was meant to get this broadcast."""
        return (self.room is None or self.room in rooms) and not any(s in rooms for s in self.skip)


def skipped(skip_sid: object) -> tuple[str, ...]:
    if isinstance(skip_sid, str):
        return (skip_sid,)
    if isinstance(skip_sid, list | tuple):
        return tuple(s for s in skip_sid if isinstance(s, str))
    return ()


class PacketLog:
    """This node's room broadcasts of the last ``window_s``, at most ``max_packets`` of them."""

    def __init__(self, window_s: float, max_packets: int = DEFAULT_LOG_MAX) -> None:
        if window_s <= 0 or max_packets <= 0:
            raise ValueError(f"window_s ({window_s}) and max_packets ({max_packets}) must be above 0.")
        self.window_s = window_s
        self._packets: deque[Logged] = deque(maxlen=max_packets)
        self._next = 0

    def append(self, text: str, room: str | None, skip_sid: object) -> str:
        now = time.monotonic()
        self._trim(now)
        self._next += 1
        offset = f"0-{self._next}"
        self._packets.append(Logged(offset, text, room, skipped(skip_sid), now))
        return offset

    def has(self, offset: str) -> bool:
        """Whether ``offset`` is still in the log: what came after it can be told exactly."""
        self._trim(time.monotonic())
        return any(p.offset == offset for p in self._packets)

    def after(self, offset: str, rooms: set[str]) -> list[tuple[str, str]]:
        """(offset, text) of what a socket in ``rooms`` was sent after ``offset``, oldest first."""
        key = offset_key(offset)
        if key is None:
            return []
        found = []
        for p in self._packets:
            later = offset_key(p.offset)
            if later is not None and later > key and p.reaches(rooms):
                found.append((p.offset, p.text))
        return found

    def __len__(self) -> int:
        return len(self._packets)

    def _trim(self, now: float) -> None:
        oldest = now - self.window_s
        while self._packets and self._packets[0].at < oldest:
            self._packets.popleft()


class MemorySessions:
    """Sessions of this node's sockets that dropped their transport, each claimable once within the window."""

    node = "local"

    def __init__(self, log: PacketLog, *, max_sessions: int = DEFAULT_SESSIONS_MAX) -> None:
        self._log = log
        self._max = max_sessions
        self._saved: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # pid -> (saved at, session)

    def new_pid(self, sid: str) -> str:
        return new_pid(self.node, sid)

    async def save(self, pid: str, session: JsonObject) -> None:
        self._trim(time.monotonic())
        self._saved.pop(pid, None)
        self._saved[pid] = (time.monotonic(), orjson.dumps(session))
        while len(self._saved) > self._max:
            self._saved.popitem(last=False)

    async def claim(self, pid: str, offset: str) -> JsonObject | None:
        self._trim(time.monotonic())
        saved = self._saved.pop(pid, None)
        if saved is None or not self._log.has(offset):
            return None
        session: JsonObject = orjson.loads(saved[1])
        return session

    async def missed(self, offset: str, rooms: set[str]) -> list[tuple[str, str]]:
        return self._log.after(offset, rooms)

    def __len__(self) -> int:
        return len(self._saved)

    def _trim(self, now: float) -> None:
        oldest = now - self._log.window_s
        while self._saved:
            pid, (at, _) = next(iter(self._saved.items()))
            if at >= oldest:
                break
            del self._saved[pid]
