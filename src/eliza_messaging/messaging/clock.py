"""Time and ids, in one place so tests and every layer agree on units (epoch milliseconds)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    return str(uuid.uuid4())


def iso(ms: int) -> str:
    """Epoch milliseconds as the ISO 8601 text a JavaScript ``Date`` serialises to."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
