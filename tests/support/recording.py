"""A fanout that records what the room would see, and can hold one emit until the test lets it go.

For unit tests of the agents' runtime and of a reply in progress: the real ``MessagingService`` and
store run as they do in the server; only the last hop to sockets is replaced, so a test can stop
time at an exact point (say, while the stored reply is being broadcast) and cancel there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Match = Callable[[str, Any], bool]


@dataclass(frozen=True, slots=True)
class Emitted:
    event: str
    data: Any
    room: str | None
    to: str | None


@dataclass
class Hold:
    """An emit matching ``match`` waits here: ``reached`` is set when it arrives, ``release()`` lets it go."""

    match: Match
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self) -> None:
        self.released.set()


class RecordingFanout:
    def __init__(self) -> None:
        self.emitted: list[Emitted] = []
        self._holds: list[Hold] = []
        self._breaks: list[Match] = []

    def hold(self, match: Match) -> Hold:
        """Hold the next emit that ``match(event, data)`` accepts (once), until released."""
        held = Hold(match)
        self._holds.append(held)
        return held

    def break_next(self, match: Match) -> None:
        """The next emit that ``match`` accepts raises ConnectionError (once), as a broken link would."""
        self._breaks.append(match)

    async def emit(
        self, event: str, data: Any, *, room: str | None = None, to: str | None = None, skip_sid: str | None = None
    ) -> None:
        for broken in self._breaks:
            if broken(event, data):
                self._breaks.remove(broken)
                raise ConnectionError(f"{event} could not be sent (test)")
        for held in self._holds:
            if held.match(event, data):
                self._holds.remove(held)
                held.reached.set()
                await held.released.wait()  # a cancel here means this emit never went out
                break
        self.emitted.append(Emitted(event, data, room, to))

    async def enter_room(self, sid: str, room: str) -> None:
        pass

    async def leave_room(self, sid: str, room: str) -> None:
        pass

    def events(self, *names: str) -> list[tuple[str, Any]]:
        """(event, data) in order, only ``names`` when given."""
        return [(e.event, e.data) for e in self.emitted if not names or e.event in names]

    def about(self, message_id: str) -> list[str]:
        """The event names sent about the work on one message (its id as trigger or reply)."""
        return [e.event for e in self.emitted if _concerns(e.data, message_id)]


def _concerns(data: Any, message_id: str) -> bool:
    if not isinstance(data, dict):
        return False
    payload = data.get("payload") if isinstance(data.get("payload"), dict) else data
    return message_id in (
        data.get("inReplyTo"),
        data.get("messageId"),
        data.get("id"),
        payload.get("inReplyTo"),
        payload.get("messageId"),
    )
