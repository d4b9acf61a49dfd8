"""Callbacks registered by kind, each with a filter; plain or async, a failing one never stops the others."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

Callback = Callable[..., Any]
Filter = Callable[[Any], bool]


class Callbacks:
    def __init__(self) -> None:
        self._by_kind: dict[str, list[tuple[Callback, Filter]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def add(self, kind: str, callback: Callback, wanted: Filter) -> Callable[[], None]:
        """Register; the returned function unregisters."""
        entry = (callback, wanted)
        self._by_kind.setdefault(kind, []).append(entry)

        def remove() -> None:
            entries = self._by_kind.get(kind, [])
            if entry in entries:
                entries.remove(entry)

        return remove

    def fire(self, kind: str, value: Any) -> None:
        """Call every wanted callback now; an async one is awaited in a task of its own."""
        for callback, wanted in list(self._by_kind.get(kind, ())):
            if not wanted(value):
                continue
            try:
                result = callback(value)
            except Exception:
                log.exception("%s callback failed", kind)
                continue
            if inspect.isawaitable(result):
                self.spawn(self._guard(result, kind))

    @staticmethod
    async def _guard(awaitable: Any, kind: str) -> None:
        try:
            await awaitable
        except Exception:
            log.exception("%s callback failed", kind)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A task that is kept referenced until done and cancelled by :meth:`cancel_all`."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
