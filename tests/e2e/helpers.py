"""Payload builders for the e2e tests, in the two dialects clients use."""

from __future__ import annotations

from typing import Any

from tests.conftest import new_id


def join(room: str, entity: str, **extra: Any) -> dict[str, Any]:
    return {"type": 1, "payload": {"roomId": room, "entityId": entity, **extra}}


def send(room: str, sender: str, text: str, **extra: Any) -> dict[str, Any]:
    payload = {
        "senderId": sender,
        "senderName": "Tester",
        "message": text,
        "roomId": room,
        "messageId": new_id(),
        "source": "test",
        "attachments": [],
        "metadata": {},
    }
    payload.update(extra)
    return {"type": 2, "payload": payload}
