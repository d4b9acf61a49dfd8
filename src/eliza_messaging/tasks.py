"""Stopping background tasks: every worker, sweeper and reader of the server stops the same way."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def stop(*tasks: asyncio.Task[Any] | None) -> None:
    """Cancel each task (None: nothing to stop) and wait until it has ended, so nothing of it runs on
    while what it used is closed; the cancellation it ends with is not raised here."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
