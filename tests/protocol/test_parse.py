"""The wire's shape is read by the protocol layer alone: both dialects, and errors that name the field."""

from __future__ import annotations

import pytest

from eliza_messaging.messaging import validation
from eliza_messaging.messaging.errors import InvalidPayload, UnknownMessageType
from eliza_messaging.protocol import parse
from eliza_messaging.protocol.types import SocketMessageType
from tests.conftest import new_id


def test_parse_reads_shape_without_applying_domain_limits() -> None:
    long_text = "x" * 1_000_000  # far past the domain's limit: not the protocol's concern
    command = parse.parse_send({"roomId": new_id(), "senderId": new_id(), "text": long_text}, socket_entity_id=None)
    assert command.text == long_text and command.text_field == "text"
    with pytest.raises(InvalidPayload) as caught:
        validation.send(
            {"roomId": new_id(), "senderId": new_id(), "text": long_text},
            socket_entity_id=None,
            limits=validation.Limits(),
        )
    assert caught.value.field == "text"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"senderId": "x", "message": "hi"}, "roomId"),
        ({"channelId": "not-a-uuid", "message": "hi"}, "channelId"),
        ({"roomId": "5f3c1a52-8e1b-4a43-9a0e-2b7f0c1d9e11", "message": 3}, "message"),
        ({"roomId": "5f3c1a52-8e1b-4a43-9a0e-2b7f0c1d9e11", "message": "hi", "attachments": {"a": 1}}, "attachments"),
        ({"roomId": "5f3c1a52-8e1b-4a43-9a0e-2b7f0c1d9e11", "message": "hi", "metadata": []}, "metadata"),
    ],
)
def test_protocol_errors_name_the_field_and_map_to_invalid_payload(payload: dict[str, object], field: str) -> None:
    with pytest.raises(parse.ProtocolError) as raw:
        parse.parse_send(payload, socket_entity_id=new_id())
    assert raw.value.field == field and field in raw.value.message
    with pytest.raises(InvalidPayload) as mapped:
        validation.send(payload, socket_entity_id=new_id(), limits=validation.Limits())
    assert mapped.value.field == field and mapped.value.message == raw.value.message


def test_unknown_type_maps_to_its_own_code() -> None:
    with pytest.raises(parse.UnknownType):
        parse.parse_envelope({"type": 4, "payload": {}})
    with pytest.raises(UnknownMessageType) as mapped:
        validation.envelope({"type": 4, "payload": {}})
    assert mapped.value.code == "UNKNOWN_MESSAGE_TYPE" and "sent by the server" in mapped.value.message
    assert parse.parse_envelope({"type": "1", "payload": {}}) == (SocketMessageType.ROOM_JOINING, {})
