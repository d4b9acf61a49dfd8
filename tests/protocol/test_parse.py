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


def test_every_wrong_field_is_named_at_once_not_one_per_try() -> None:
    seed_style = {
        "roomId": "your-room-id",
        "senderId": "your-extension-entity-id",
        "message": 42,
        "attachments": "none",
        "metadata": [],
        "inReplyTo": "the-last-one",
    }
    with pytest.raises(parse.ProtocolError) as raw:
        parse.parse_send(seed_style, socket_entity_id=None)
    assert raw.value.fields == ["roomId", "senderId", "message", "attachments", "metadata", "inReplyTo"]
    assert raw.value.field == "roomId"
    message = raw.value.message
    assert message.startswith("6 fields need fixing (roomId, senderId, message, attachments, metadata, inReplyTo)")
    for said in ("'your-room-id'", "'your-extension-entity-id'", "the number 42", "'the-last-one'"):
        assert said in message
    with pytest.raises(InvalidPayload) as mapped:
        validation.send(seed_style, socket_entity_id=None, limits=validation.Limits())
    assert mapped.value.fields == raw.value.fields and mapped.value.code == "INVALID_PAYLOAD"


def test_joins_and_typing_name_every_wrong_field_too() -> None:
    with pytest.raises(parse.ProtocolError) as join:
        parse.parse_join({"roomId": "your-room-id", "entityId": "me", "lastSeq": -1}, socket_entity_id=None)
    assert join.value.fields == ["roomId", "entityId", "lastSeq"]
    with pytest.raises(parse.ProtocolError) as typing:
        parse.parse_typing({"roomId": "here", "userId": "me"}, socket_entity_id=None)
    assert typing.value.fields == ["roomId", "userId"]
    with pytest.raises(parse.ProtocolError) as one:
        parse.parse_join({"roomId": "your-room-id"}, socket_entity_id=None)
    assert one.value.fields == ["roomId"] and not one.value.message.startswith("1 fields")
