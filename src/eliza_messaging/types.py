"""Type aliases shared by every layer (it imports nothing of ours, so anything may import it)."""

from __future__ import annotations

from typing import Any

JsonObject = dict[str, Any]
"""A JSON object as decoded by orjson: what payloads, metadata and raw messages are."""
