"""Build a :class:`TextModel` from a provider name and a character's settings.

Characters choose their model with a provider name (``modelProvider`` in ElizaOS) plus a
``settings`` mapping; the server's environment supplies defaults. Keeping that mapping here
means the agents layer never needs to know which backend takes which option.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .base import TextModel
from .eliza import ElizaModel

__all__ = ["PROVIDERS", "create_model"]

PROVIDERS: tuple[str, ...] = ("eliza", "openai")

# Character-setting aliases for the OPENAI_* variable each one overrides.
_OPENAI_ALIASES: Mapping[str, str] = {
    "base_url": "OPENAI_BASE_URL",
    "api_key": "OPENAI_API_KEY",
    "small_model": "OPENAI_SMALL_MODEL",
    "large_model": "OPENAI_LARGE_MODEL",
    "timeout": "OPENAI_TIMEOUT",
    "stall_timeout": "OPENAI_STALL_TIMEOUT",
    "max_retries": "OPENAI_MAX_RETRIES",
}
_OPENAI_VARS = frozenset(_OPENAI_ALIASES.values())


def create_model(
    provider: str, options: Mapping[str, str] | None = None, env: Mapping[str, str] = os.environ
) -> TextModel:
    """Create the model for ``provider`` (case-insensitive): ``eliza`` or ``openai``.

    ``options`` (a character's ``settings``) win over ``env``; keys are matched
    case-insensitively and unknown keys are ignored, so a character can carry settings
    for other plugins.

    ``eliza`` accepts ``word_delay`` / ``ELIZA_WORD_DELAY``: seconds to pause between
    streamed words (default 0).

    ``openai`` accepts the environment names ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``
    (may be empty for Ollama / llama.cpp), ``OPENAI_SMALL_MODEL`` (default ``gpt-4o-mini``),
    ``OPENAI_LARGE_MODEL`` (default ``gpt-4o``), ``OPENAI_TIMEOUT`` (seconds per HTTP
    request), ``OPENAI_STALL_TIMEOUT`` (seconds of silence tolerated mid-stream) and
    ``OPENAI_MAX_RETRIES``; as character settings also the short forms ``base_url``,
    ``api_key``, ``small_model``, ``large_model``, ``timeout``, ``stall_timeout``,
    ``max_retries``, and ``model`` (one model name for both sizes, overriding the
    environment's size-specific names but not a character's ``small_model`` / ``large_model``).

    Raises ``ValueError`` for an unknown provider (listing the valid ones) or a malformed
    numeric setting.
    """
    name = provider.strip().lower()
    settings = _normalise(options or {})
    if name == "eliza":
        return ElizaModel(word_delay_s=_eliza_word_delay(settings, env))
    if name == "openai":
        from .openai import OpenAIModel, OpenAISettings  # the openai package takes a third of start-up: only when used

        return OpenAIModel(OpenAISettings.from_env(_openai_values(settings, env)))
    raise ValueError(f"Unknown model provider {provider!r}; valid providers are: {', '.join(PROVIDERS)}")


def _normalise(options: Mapping[str, object]) -> dict[str, str]:
    """Lower-case keys and text values; characters are JSON, so numbers arrive as numbers."""
    out: dict[str, str] = {}
    for key, value in options.items():
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            out[str(key).strip().lower()] = str(value)
    return out


def _eliza_word_delay(settings: Mapping[str, str], env: Mapping[str, str]) -> float:
    raw = settings.get("word_delay") or settings.get("eliza_word_delay") or env.get("ELIZA_WORD_DELAY")
    if raw is None or not raw.strip():
        return 0.0
    try:
        delay = float(raw)
    except ValueError:
        raise ValueError(f"ELIZA_WORD_DELAY must be a number of seconds, got {raw!r}") from None
    if delay < 0:
        raise ValueError(f"ELIZA_WORD_DELAY must not be negative, got {raw!r}")
    return delay


def _openai_values(settings: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """The OPENAI_* values after applying the character's settings over the environment."""
    values = {var: env[var] for var in _OPENAI_VARS if var in env}
    model = settings.get("model")
    if model is not None and model.strip():
        values["OPENAI_SMALL_MODEL"] = values["OPENAI_LARGE_MODEL"] = model
    for key, value in settings.items():
        var = _OPENAI_ALIASES.get(key) or (key.upper() if key.upper() in _OPENAI_VARS else None)
        if var is not None:
            values[var] = value
    return values
