"""Log streaming to sockets that ask for it (``subscribe_logs``), as the ElizaOS web client's log view does,
and the recent entries for ``GET /api/server/logs`` (the same entries, kept in a bounded ring).

Unlike the reference, what is streamed carries no message text and no other socket's ids: only
this server's own records (never the per-event debug log), each reduced to time, level, logger,
sentence and the agent it concerns. Where ``SERVER_API_KEY`` is set, only sockets that
connected with the key exist at all.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from ..fanout.base import Fanout
from ..messaging.errors import InvalidPayload

# pino's numbers, which ElizaOS log entries use
LEVELS = {"trace": 10, "debug": 20, "info": 30, "warn": 40, "warning": 40, "error": 50, "fatal": 60}
HIDDEN_LOGGERS = ("eliza_messaging.events",)
ALL = "all"  # the ElizaOS client's filter for every level
RECENT_MAX = 1000  # entries kept for GET /api/server/logs


@dataclass(slots=True)
class LogFilters:
    agent_name: str | None = None
    level: str = "info"

    def as_payload(self) -> dict[str, Any]:
        return {"agentName": self.agent_name or "all", "level": self.level}


def parse_filters(data: Any, current: LogFilters) -> LogFilters:
    if not isinstance(data, dict):
        raise InvalidPayload("update_log_filters takes an object like {agentName: 'Eliza', level: 'info'}.")
    level = data.get("level", current.level)
    level = ALL if level == "" else level
    if not isinstance(level, str) or (level.lower() not in LEVELS and level.lower() != ALL):
        raise InvalidPayload(
            f"level must be {ALL} or one of {', '.join(LEVELS)}, but got {str(level)[:20]!r}.", field="level"
        )
    agent = data.get("agentName", current.agent_name)
    if agent is not None and not isinstance(agent, str):
        raise InvalidPayload("agentName must be a string (or 'all').", field="agentName")
    return LogFilters(agent_name=None if agent in (None, "", "all") else agent, level=level.lower())


class LogStream(logging.Handler):
    """A logging handler that forwards records to subscribed sockets through the fanout."""

    def __init__(self, fanout: Fanout, *, keep: int = RECENT_MAX) -> None:
        super().__init__(level=logging.DEBUG)
        self._fanout = fanout
        self._recent: deque[dict[str, Any]] = deque(maxlen=keep)
        self._subscribers: dict[str, LogFilters] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sending: set[asyncio.Future[None]] = set()

    def attach(self, loop: asyncio.AbstractEventLoop, logger: logging.Logger) -> None:
        self._loop = loop
        logger.addHandler(self)

    def detach(self, logger: logging.Logger) -> None:
        logger.removeHandler(self)
        self._loop = None

    def subscribe(self, sid: str) -> None:
        self._subscribers.setdefault(sid, LogFilters())

    def unsubscribe(self, sid: str) -> None:
        self._subscribers.pop(sid, None)

    def update(self, sid: str, data: Any) -> LogFilters:
        filters = parse_filters(data, self._subscribers.get(sid, LogFilters()))
        self._subscribers[sid] = filters
        return filters

    def recent(self, *, level: str = ALL, agent_name: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """The kept entries that pass the filters, newest first, and how many are kept in all."""
        filters = parse_filters({"level": level, "agentName": agent_name}, LogFilters())
        self.acquire()  # the lock emit runs under (logging.Handler.handle), whichever thread logs
        try:
            kept = list(self._recent)
        finally:
            self.release()
        return [e for e in reversed(kept) if _wanted(e, filters)], len(kept)

    def emit(self, record: logging.LogRecord) -> None:
        if self._loop is None or record.name.startswith(HIDDEN_LOGGERS):
            return
        entry = _entry(record)
        self._recent.append(entry)
        if not self._subscribers:
            return
        targets = [sid for sid, f in self._subscribers.items() if _wanted(entry, f)]
        if targets:
            self._loop.call_soon_threadsafe(self._send, targets, entry)

    def _send(self, targets: list[str], entry: dict[str, Any]) -> None:
        for sid in targets:
            task = asyncio.ensure_future(
                self._fanout.emit("log_stream", {"type": "log_entry", "payload": entry}, to=sid)
            )
            self._sending.add(task)  # held until done, so the task is not collected mid-flight
            task.add_done_callback(self._sending.discard)


def _entry(record: logging.LogRecord) -> dict[str, Any]:
    agent = getattr(record, "agent", None)
    entry: dict[str, Any] = {
        "time": int(record.created * 1000),
        "level": LEVELS.get(record.levelname.lower(), 30),
        "levelName": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    if isinstance(agent, str):
        entry["agentName"] = agent
    return entry


def _wanted(entry: dict[str, Any], filters: LogFilters) -> bool:
    if filters.level != ALL and entry["level"] < LEVELS[filters.level]:
        return False
    return filters.agent_name is None or entry.get("agentName") == filters.agent_name
