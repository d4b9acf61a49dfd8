"""Both dialects fold into one command; mistakes become sentences that name the field and the fix."""

from __future__ import annotations

import pytest

from eliza_messaging.messaging import validation
from eliza_messaging.messaging.errors import InvalidPayload, PayloadTooLarge
from eliza_messaging.messaging.validation import Limits
from eliza_messaging.protocol.types import DEFAULT_SERVER_ID
from tests.conftest import new_id

LIMITS = Limits()


def test_seed_and_eliza17_spellings_give_the_same_command() -> None:
    room, sender, server = new_id(), new_id(), DEFAULT_SERVER_ID
    seed = validation.send({"roomId": room, "senderId": sender, "message": "hi"}, socket_entity_id=None, limits=LIMITS)
    modern = validation.send(
        {"channelId": room, "messageServerId": server, "message": "hi"}, socket_entity_id=sender, limits=LIMITS
    )
    old = validation.send(
        {"channelId": room, "serverId": server, "senderId": sender, "message": "hi"},
        socket_entity_id=None,
        limits=LIMITS,
    )
    assert seed == modern == old
    assert seed.server_id == DEFAULT_SERVER_ID and seed.sender_name == "User" and seed.source == "socketio"


def test_join_takes_the_handshake_entity_when_the_payload_has_none() -> None:
    entity = new_id()
    command = validation.join({"channelId": new_id()}, socket_entity_id=entity, limits=LIMITS)
    assert command.entity_id == entity


def test_text_over_the_limit_is_refused_with_the_numbers() -> None:
    with pytest.raises(PayloadTooLarge) as err:
        validation.send(
            {"roomId": new_id(), "senderId": new_id(), "message": "x" * 11},
            socket_entity_id=None,
            limits=Limits(max_text_chars=10),
        )
    assert err.value.message == "message is 11 characters long; the limit is 10. Split it into several messages."


def test_metadata_too_large_names_the_limit() -> None:
    with pytest.raises(PayloadTooLarge, match="the limit is 100"):
        validation.send(
            {"roomId": new_id(), "senderId": new_id(), "message": "x", "metadata": {"k": "v" * 200}},
            socket_entity_id=None,
            limits=Limits(max_metadata_bytes=100),
        )


def test_text_alias_is_accepted_and_attachments_alone_are_enough() -> None:
    command = validation.send(
        {"roomId": new_id(), "senderId": new_id(), "text": "", "attachments": [{"url": "x"}]},
        socket_entity_id=None,
        limits=LIMITS,
    )
    assert command.text == "" and command.attachments == [{"url": "x"}]


def test_ids_are_kept_exactly_as_sent() -> None:
    upper = new_id().upper()
    command = validation.join({"roomId": upper}, socket_entity_id=None, limits=LIMITS)
    assert command.channel_id == upper


@pytest.mark.parametrize("bad", [None, 3, "x", [], {"roomId": 5}])
def test_join_payload_errors_are_invalid_payload(bad: object) -> None:
    with pytest.raises(InvalidPayload):
        validation.join(bad, socket_entity_id=None, limits=LIMITS)
