"""The rejoin fields of a join (issue 12): ``lastSeq`` and ``lastMessageId``, read or refused by name."""

from __future__ import annotations

import pytest

from eliza_messaging.protocol.parse import ProtocolError, parse_join
from tests.conftest import new_id


def join(**extra: object) -> dict[str, object]:
    return {"roomId": new_id(), "entityId": new_id(), **extra}


@pytest.mark.parametrize(("given", "read"), [(0, 0), (7, 7), ("12", 12), (3.0, 3), (2**53 - 1, 2**53 - 1)])
def test_last_seq_is_read(given: object, read: int) -> None:
    assert parse_join(join(lastSeq=given), socket_entity_id=None).last_seq == read


def test_a_plain_join_has_no_resume_point() -> None:
    command = parse_join(join(), socket_entity_id=None)
    assert (command.last_seq, command.last_message_id) == (None, None)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "x", "", [1], {"n": 1}, 2**53])
def test_a_bad_last_seq_is_refused_by_name(bad: object) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_join(join(lastSeq=bad), socket_entity_id=None)
    assert refused.value.field == "lastSeq" and "whole number" in refused.value.message


def test_last_message_id_is_a_uuid() -> None:
    mid = new_id()
    assert parse_join(join(lastMessageId=mid), socket_entity_id=None).last_message_id == mid
    with pytest.raises(ProtocolError) as refused:
        parse_join(join(lastMessageId="latest"), socket_entity_id=None)
    assert refused.value.field == "lastMessageId"
