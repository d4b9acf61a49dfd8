"""What the client remembers between events: its channels, the ids it delivered, its open requests."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from ..types import JsonObject
from .errors import ConnectionLost, ElizaClientError
from .models import Message


@dataclass
class ChannelState:
    """A joined channel: enough to rejoin it the same way and to catch up from where it stopped."""

    id: str
    metadata: JsonObject = field(default_factory=dict)
    agent_id: str | None = None
    send_metadata: JsonObject = field(default_factory=dict)
    target_user_id: str | None = None
    last_seen_ms: int = 0
    """For servers that give no offsets only: the newest creation time delivered."""
    last_seq: int | None = None
    """The channel offset up to which everything was delivered (or said before the client joined);
    a rejoin asks the server for what came after it. None: not known (yet, or the server gives none)."""
    seqs_above: set[int] = field(default_factory=set)
    """Offsets delivered above ``last_seq`` while one below them has not arrived yet (several nodes
    may deliver out of order); they are folded in as the gap fills."""
    joined: bool = False
    catching_up: bool = False
    held: list[Message] = field(default_factory=list)
    """Live broadcasts that arrived while catching up, delivered after the missed ones."""

    def saw_seq(self, seq: int) -> None:
        """Count offset ``seq`` as delivered and move ``last_seq`` over every offset now contiguous."""
        if self.last_seq is None or seq <= self.last_seq:
            return
        self.seqs_above.add(seq)
        if len(self.seqs_above) > GAP_TOLERANCE:  # a message deleted before it reached us: skip its gap
            self.last_seq = min(self.seqs_above) - 1
        while self.last_seq + 1 in self.seqs_above:
            self.last_seq += 1
            self.seqs_above.discard(self.last_seq)

    def start_at(self, seq: int) -> None:
        """The channel's newest offset when the client joined: everything up to it is before its time."""
        if self.last_seq is None or seq > self.last_seq:
            self.last_seq = seq
            self.seqs_above = {s for s in self.seqs_above if s > seq}
            while self.last_seq + 1 in self.seqs_above:
                self.last_seq += 1
                self.seqs_above.discard(self.last_seq)


GAP_TOLERANCE = 200


class SeenIds:
    """A bounded set of delivered message ids, oldest forgotten first."""

    def __init__(self, size: int = 50_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def add(self, key: str) -> None:
        self._ids[key] = None
        if len(self._ids) > self._size:
            self._ids.popitem(last=False)


@dataclass
class Pending:
    """A join or send waiting for the server's answer (ack callback or event, whichever comes first)."""

    kind: Literal["join", "send"]
    key: str
    channel_id: str
    future: asyncio.Future[JsonObject]

    def resolve(self, data: JsonObject) -> None:
        if not self.future.done():
            self.future.set_result(data)

    def reject(self, error: ElizaClientError) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class PendingRequests:
    """Open requests by key (the client message id for sends), oldest first."""

    def __init__(self) -> None:
        self._open: OrderedDict[str, Pending] = OrderedDict()

    def open(self, kind: Literal["join", "send"], key: str, channel_id: str) -> Pending:
        pending = Pending(kind, key, channel_id, asyncio.get_running_loop().create_future())
        self._open[key] = pending
        return pending

    def close(self, pending: Pending) -> None:
        self._open.pop(pending.key, None)

    def get(self, key: Any) -> Pending | None:
        return self._open.get(str(key))

    def oldest(self, channel_id: str | None) -> Pending | None:
        """The oldest request on ``channel_id`` (any channel when None)."""
        return next((p for p in self._open.values() if channel_id in (None, p.channel_id)), None)

    def joins(self, channel_id: str | None) -> list[Pending]:
        return [p for p in self._open.values() if p.kind == "join" and p.channel_id == channel_id]

    def fail_all(self, message: str) -> None:
        for pending in list(self._open.values()):
            client_id = pending.key if pending.kind == "send" else None
            pending.reject(ConnectionLost(message, client_message_id=client_id))
