"""Type aliases shared by every layer (it imports nothing of ours, so anything may import it)."""

from __future__ import annotations

import re
from typing import Any

JsonObject = dict[str, Any]
"""A JSON object as decoded by orjson: what payloads, metadata and raw messages are."""

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(value: object) -> bool:
    """A UUID in its canonical text form (any case): every id of the protocol, and a path part of a file."""
    return isinstance(value, str) and bool(_UUID.match(value))
