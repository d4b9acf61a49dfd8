"""A flooding socket is slowed with clear errors; nothing it sent is lost without a word, others are unaffected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.server import ServerProcess


async def test_over_the_rate_each_message_is_either_stored_or_refused_with_the_wait(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    proc = server_factory({"ELIZA_SOCKET_RATE": "5", "ELIZA_SOCKET_BURST": "10"})
    room, flooder_id, bystander_id = new_id(), new_id(), new_id()
    flooder = await clients(proc.url)
    await flooder.connected()
    bystander = await clients(proc.url)
    await bystander.connected()
    await bystander.call("message", join(room, bystander_id))
    outcomes = [await flooder.call("message", send(room, flooder_id, f"flood {i}")) for i in range(30)]
    stored = [o for o in outcomes if o["success"]]
    refused = [o for o in outcomes if not o["success"]]
    assert 10 <= len(stored) < 30 and len(stored) + len(refused) == 30
    assert {o["code"] for o in refused} == {"RATE_LIMITED"}
    assert all(o["retryAfterMs"] > 0 and "wait" in o["error"] for o in refused)
    history = httpx.get(f"{proc.url}/api/messaging/channels/{room}/messages", params={"limit": 100}).json()
    assert {m["id"] for m in history["data"]["messages"]} == {o["messageId"] for o in stored}
    ok = await bystander.call("message", send(room, bystander_id, "I am not slowed"))
    assert ok["success"] is True


async def test_typing_and_unknown_events_count_against_the_rate_too(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    proc = server_factory({"ELIZA_SOCKET_RATE": "5", "ELIZA_SOCKET_BURST": "10"})
    room, typer_id = new_id(), new_id()
    typer = await clients(proc.url)
    await typer.connected()
    observer = await clients(proc.url)
    await observer.connected()
    await observer.call("message", join(room, new_id()))
    outcomes = [await typer.call("typing", {"roomId": room, "userId": typer_id, "isTyping": True}) for _ in range(40)]
    refused = [o for o in outcomes if not o["success"]]
    assert refused and {o["code"] for o in refused} == {"RATE_LIMITED"}
    await observer.quiet(0.5)
    # positive control: another socket's typing reaches the observer; the typer's, all sent before, came first
    marker, marker_id = await clients(proc.url), new_id()
    await marker.connected()
    await marker.emit("typing", {"roomId": room, "userId": marker_id, "isTyping": True})
    await observer.event("userTyping", where=lambda t: t["userId"] == marker_id)
    heard = [t["userId"] for t in observer.events("userTyping")]
    assert heard[-1] == marker_id and heard.count(marker_id) == 1
    assert heard[:-1] == [typer_id] * (40 - len(refused)) and len(heard) - 1 <= 20
    unknown = await typer.call("shout", {"text": "x"})
    assert unknown["code"] in ("RATE_LIMITED", "INVALID_PAYLOAD")
