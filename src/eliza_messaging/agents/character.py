"""Characters: an agent as a JSON file in ElizaOS's shape, with a stable id.

Only the fields that shape replies are read (``name``, ``bio``, ``system``, ``style``,
``messageExamples``, ``settings``, optional ``id``); others are kept untouched in ``extra``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

# Stable ids: the same character name gives the same agent id on every start and every node.
AGENT_NAMESPACE = uuid.UUID("6f1c3c2e-5b7a-4f3e-9a51-1e0c8e5d2a77")

DEFAULT_CHARACTER: dict[str, Any] = {
    "name": "Eliza",
    "bio": [
        "A Rogerian psychotherapist in the tradition of Joseph Weizenbaum's 1966 program.",
        "Listens, reflects what people say back to them, and asks about their feelings.",
    ],
    "system": "You are Eliza, a gentle Rogerian listener. Reflect the user's words back and ask open questions.",
    "style": {"all": ["short sentences", "ask questions", "never judge"], "chat": ["warm", "curious"]},
    "messageExamples": [],
    "settings": {},
}
# A short pause between streamed words, so people see the reply being written (ELIZA_WORD_DELAY overrides).
DEFAULT_WORD_DELAY = "0.03"


class CharacterError(ValueError):
    """A character file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Character:
    id: str
    name: str
    bio: tuple[str, ...] = ()
    system: str = ""
    style: dict[str, tuple[str, ...]] = field(default_factory=dict)
    message_examples: tuple[Any, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def setting(self, name: str, default: str | None = None) -> str | None:
        """A setting by name, case-insensitively, also looking in ``settings.secrets``."""
        wanted = name.lower()
        pools = [self.settings, self.settings.get("secrets") or {}]
        for pool in pools:
            if isinstance(pool, dict):
                for key, value in pool.items():
                    if key.lower() == wanted and value is not None and not isinstance(value, dict):
                        return str(value)
        return default


def _lines(value: Any, what: str, source: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise CharacterError(f"{source}: '{what}' must be a string or a list of strings.")


def character_from_dict(data: Any, source: str = "character") -> Character:
    if not isinstance(data, dict):
        raise CharacterError(f"{source}: a character must be a JSON object with at least a 'name'.")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CharacterError(f'{source}: \'name\' is missing; give the agent a name, e.g. "name": "Eliza".')
    ident = data.get("id")
    if ident is None:
        ident = str(uuid.uuid5(AGENT_NAMESPACE, name.strip().lower()))
    else:
        try:
            ident = str(uuid.UUID(str(ident)))
        except ValueError as exc:
            raise CharacterError(f"{source}: 'id' must be a UUID; leave it out to derive one from the name.") from exc
    style = data.get("style") or {}
    if not isinstance(style, dict):
        raise CharacterError(f'{source}: \'style\' must be an object like {{"all": [...], "chat": [...]}}.')
    settings = data.get("settings") or {}
    if not isinstance(settings, dict):
        raise CharacterError(f"{source}: 'settings' must be an object.")
    examples = data.get("messageExamples") or []
    if not isinstance(examples, list):
        raise CharacterError(f"{source}: 'messageExamples' must be a list of conversations.")
    known = {"id", "name", "bio", "system", "style", "messageExamples", "settings"}
    return Character(
        id=ident,
        name=name.strip(),
        bio=_lines(data.get("bio"), "bio", source),
        system=data.get("system") or "",
        style={k: _lines(v, f"style.{k}", source) for k, v in style.items()},
        message_examples=tuple(examples),
        settings=settings,
        extra={k: v for k, v in data.items() if k not in known},
    )


def load_character(path: str | Path) -> Character:
    file = Path(path)
    try:
        data = orjson.loads(file.read_bytes())
    except FileNotFoundError as exc:
        raise CharacterError(f"{file}: no such character file.") from exc
    except orjson.JSONDecodeError as exc:
        raise CharacterError(f"{file}: not valid JSON ({exc}).") from exc
    return character_from_dict(data, str(file))


def default_character(env: Mapping[str, str] = os.environ) -> Character:
    settings = {"word_delay": env.get("ELIZA_WORD_DELAY", DEFAULT_WORD_DELAY)}
    return character_from_dict({**DEFAULT_CHARACTER, "settings": settings}, "default character")
