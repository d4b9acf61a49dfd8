"""Time and ids, in one place so tests and every layer agree on units (epoch milliseconds)."""

from __future__ import annotations

import time
import uuid


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id() -> str:
    return str(uuid.uuid4())
