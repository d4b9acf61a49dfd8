"""subscribe_logs: the ElizaOS log view's events, with entries that carry no message text."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import new_id
from tests.e2e.helpers import join, send
from tests.support.server import ServerProcess


async def test_subscribe_filter_and_receive_entries_without_message_text(
    server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    proc = server_factory()  # debug level, so agents log each reply
    watcher = await clients(proc.url)
    await watcher.connected()
    confirmed = await watcher.call("subscribe_logs")
    assert confirmed["subscribed"] is True
    assert (await watcher.event("log_subscription_confirmed"))["subscribed"] is True
    updated = await watcher.call("update_log_filters", {"agentName": "Eliza", "level": "debug"})
    assert updated == {"success": True, "filters": {"agentName": "Eliza", "level": "debug"}}
    refused = await watcher.call("update_log_filters", {"level": "loud"})
    assert refused["success"] is False and "level must be all or one of" in refused["error"]
    every = await watcher.call("update_log_filters", {"level": "all"})  # what the ElizaOS web client sends
    assert every == {"success": True, "filters": {"agentName": "Eliza", "level": "all"}}

    eliza = httpx.get(f"{proc.url}/api/agents").json()["data"]["agents"][0]["id"]
    user = await clients(proc.url)
    await user.connected()
    room, me = new_id(), new_id()
    await user.call("message", join(room, me, metadata={"isDm": True, "targetUserId": eliza}))
    secret = "my bank password is hunter2"
    await user.call("message", send(room, me, secret, metadata={"isDm": True}))
    entry = await watcher.event("log_stream", timeout=10)
    assert entry["type"] == "log_entry"
    assert entry["payload"]["agentName"] == "Eliza" and entry["payload"]["msg"] == "replied"
    assert entry["payload"]["level"] == 20
    await user.event("messageComplete")
    streamed = json.dumps(watcher.events("log_stream"))
    assert "hunter2" not in streamed and room not in streamed and me not in streamed
    assert await watcher.call("unsubscribe_logs") == {
        "success": True,
        "subscribed": False,
        "message": "Unsubscribed from logs.",
    }
