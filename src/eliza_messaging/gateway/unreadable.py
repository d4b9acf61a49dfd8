"""An event whose JSON cannot be read still gets an answer.

python-socketio decodes a packet's JSON before any handler runs; when that fails (a lone
surrogate, nesting deeper than the decoder goes, broken JSON) it logs and drops the packet, and
the client waits for an acknowledgement that never comes. The header (namespace, ack id) is
readable all the same, so we answer the ack and send ``messageError`` like any other bad input.
"""

from __future__ import annotations

import re

from ..protocol import payloads
from ..types import JsonObject

# A Socket.IO EVENT packet's header: type 2, optional attachment count, namespace, ack id.
_EVENT_HEADER = re.compile(r"2(?:\d{1,10}-)?(?:(/[^,]*),)?(\d{1,99})?")
ERROR_CODE = "INVALID_PAYLOAD"


def unreadable_event(data: object, error: Exception) -> tuple[str, int | None, JsonObject] | None:
    """(namespace, ack id or None, messageError body) for an EVENT packet that failed to decode; None otherwise."""
    if not isinstance(data, str):
        return None
    header = _EVENT_HEADER.match(data)
    if header is None:
        return None
    namespace, ack_id = header.group(1) or "/", header.group(2)
    reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
    body = payloads.message_error(
        f"This event could not be read as JSON ({reason}). Send JSON text: strings with no lone surrogates"
        " (U+D800 to U+DFFF), nested at most 1,000 levels deep.",
        code=ERROR_CODE,
        field="payload",
    )
    return namespace, int(ack_id) if ack_id else None, body
