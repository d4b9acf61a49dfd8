"""What a message may hold, checked on the commands ``protocol.parse`` reads off the wire.

The wire's shape (fields, types, id formats, both dialects) is the protocol's; the bounds on
what one message may carry (lengths, sizes, nesting, characters the store cannot keep) are
ours, set in settings. These functions parse with the protocol, turn its errors into
:class:`InvalidPayload`, and apply the bounds, so every error names the field and the fix.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from ..protocol import parse
from ..protocol.commands import JoinChannel, SendMessage, Typing
from ..protocol.types import SocketMessageType
from ..types import JsonObject
from .errors import InvalidPayload, PayloadTooLarge, UnknownMessageType


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one message may carry (all configurable in settings)."""

    max_text_chars: int = 100_000
    max_metadata_bytes: int = 64_000
    max_json_depth: int = 32
    max_attachments: int = 32
    max_name_chars: int = 256


@contextmanager
def protocol_errors() -> Iterator[None]:
    """Raise the protocol's complaints about a payload as this layer's errors, sentence and field kept."""
    try:
        yield
    except parse.UnknownType as exc:
        raise UnknownMessageType(exc.message, field=exc.field) from None
    except parse.ProtocolError as exc:
        raise InvalidPayload(exc.message, field=exc.field, fields=exc.fields) from None


def envelope(data: object) -> tuple[SocketMessageType, JsonObject]:
    """The ``message`` event's ``{type, payload}``."""
    with protocol_errors():
        return parse.parse_envelope(data)


def join(payload: object, *, socket_entity_id: str | None, limits: Limits) -> JoinChannel:
    with protocol_errors():
        command = parse.parse_join(payload, socket_entity_id=socket_entity_id)
    check_name(command.username, "username", limits)
    check_name(command.display_name, "displayName", limits)
    check_json(command.metadata, "metadata", limits)
    return command


def send(payload: object, *, socket_entity_id: str | None, limits: Limits) -> SendMessage:
    with protocol_errors():
        command = parse.parse_send(payload, socket_entity_id=socket_entity_id)
    field = command.text_field
    if len(command.text) > limits.max_text_chars:
        raise PayloadTooLarge(
            f"{field} is {len(command.text)} characters long; the limit is {limits.max_text_chars}."
            " Split it into several messages.",
            field=field,
        )
    if "\x00" in command.text:
        raise InvalidPayload(
            f"{field} contains the NUL character (U+0000), which cannot be stored; remove it.", field=field
        )
    attachments = command.attachments
    if len(attachments) > limits.max_attachments:
        raise PayloadTooLarge(
            f"attachments has {len(attachments)} entries; the limit is {limits.max_attachments}.",
            field="attachments",
        )
    if attachments:
        check_json(attachments, "attachments", limits)
    if not command.text.strip() and not attachments:
        raise InvalidPayload("message is empty: send some text, or at least one attachment.", field=field)
    check_name(command.sender_name, "senderName", limits)
    check_name(command.source, "source", limits)
    check_json(command.metadata, "metadata", limits)
    return command


def typing(payload: object, *, socket_entity_id: str | None) -> Typing:
    with protocol_errors():
        return parse.parse_typing(payload, socket_entity_id=socket_entity_id)


def check_name(value: str | None, field: str, limits: Limits) -> None:
    """Refuse a name (sender, user, source) that is too long or holds U+0000."""
    if value is None:
        return
    if len(value) > limits.max_name_chars:
        raise InvalidPayload(
            f"{field} is {len(value)} characters long; the limit is {limits.max_name_chars}.", field=field
        )
    if "\x00" in value:
        raise InvalidPayload(f"{field} contains the NUL character (U+0000); remove it.", field=field)


def _inspect(value: Any, limit: int) -> tuple[int, bool]:
    """(nesting depth, whether any key or string holds U+0000), iteratively; stops once ``limit`` is passed."""
    deepest, nul = 0, False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            nul = nul or "\x00" in item
        elif isinstance(item, dict | list):
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest, nul
            if isinstance(item, dict):
                stack.extend((key, level) for key in item)
                stack.extend((child, level + 1) for child in item.values())
            else:
                stack.extend((child, level + 1) for child in item)
    return deepest, nul


def check_json(value: Any, field: str, limits: Limits) -> bytes:
    """Refuse JSON that is nested too deeply, too large, or not storable (REST bodies use this too)."""
    depth, nul = _inspect(value, limits.max_json_depth)
    if depth > limits.max_json_depth:
        raise InvalidPayload(
            f"{field} is nested more than {limits.max_json_depth} levels deep; flatten it.", field=field
        )
    if nul:
        raise InvalidPayload(
            f"{field} contains the NUL character (U+0000) in a key or string, which cannot be stored; remove it.",
            field=field,
        )
    try:
        encoded = orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidPayload(f"{field} cannot be stored as JSON: {exc}.", field=field) from exc
    if len(encoded) > limits.max_metadata_bytes:
        raise PayloadTooLarge(
            f"{field} is {len(encoded)} bytes as JSON; the limit is {limits.max_metadata_bytes}."
            " Keep large data elsewhere and send a reference to it.",
            field=field,
        )
    return encoded


def check_text(text: str, field: str, limits: Limits, *, max_chars: int | None = None) -> str:
    """Refuse text the store cannot keep or the limits do not allow, naming ``field``."""
    limit = max_chars if max_chars is not None else limits.max_text_chars
    if len(text) > limit:
        raise PayloadTooLarge(
            f"{field} is {len(text)} characters long; the limit is {limit}. Split it into several messages.",
            field=field,
        )
    if "\x00" in text:
        raise InvalidPayload(
            f"{field} contains the NUL character (U+0000), which cannot be stored; remove it.", field=field
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidPayload(
            f"{field} contains an unpaired surrogate (\\u{ord(text[exc.start]):04x}), which is not valid"
            " Unicode; send valid UTF-8 text.",
            field=field,
        ) from exc
    return text


DISPLAY_NAME_KEYS = ("user_display_name", "author_display_name", "displayName", "username", "userName", "senderName")


def display_name(*sources: Mapping[str, Any]) -> str:
    """The sender's name from whichever metadata spelling a client used (ElizaOS clients vary), else 'User'."""
    for meta in sources:
        for key in DISPLAY_NAME_KEYS:
            value = meta.get(key)
            if isinstance(value, str) and value.strip():
                return value[:256]
    return "User"
