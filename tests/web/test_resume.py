"""The web chat resumes by channel offset (issue 12): after the connection comes back it rejoins with
``lastSeq`` and shows what it missed, in order, once; it never asks the history by clock (``after=``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.async_api import Browser, Request, WebSocket, expect

from tests.conftest import new_id
from tests.e2e.test_replay import say
from tests.support.server import ServerProcess
from tests.web.chat_page import ChatPage


def record_frames(chat: ChatPage) -> list[str]:
    """What the page sends on its socket: websocket frames and polling POST bodies alike."""
    sent: list[str] = []

    def watch(socket: WebSocket) -> None:
        socket.on("framesent", lambda frame: sent.append(frame if isinstance(frame, str) else frame.decode()))

    def posted(request: Request) -> None:
        if request.method == "POST" and "/socket.io/" in request.url and request.post_data:
            sent.append(request.post_data)

    chat.page.on("websocket", watch)
    chat.page.on("request", posted)
    return sent


async def test_the_page_rejoins_with_its_last_offset_and_shows_the_gap_once(
    browser: Browser, server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    server = server_factory({"ELIZA_REPLAY_MAX": "2"})  # 3 missed: 2 replayed, the oldest over REST by offset
    chat = await ChatPage.open(browser, server.url, name="Ada")
    channel = await chat.create_channel("resumable")
    frames = record_frames(chat)  # from here: the rejoin
    await chat.send("before the cut")

    server.stop()
    await chat.expect_state("reconnecting")
    await chat.context.route("**/socket.io/**", lambda route: route.abort())
    server.start()
    zoe_id = new_id()
    zoe = await clients(server.url)
    await zoe.connected()
    await zoe.call("message", {"type": 1, "payload": {"roomId": channel, "entityId": zoe_id}})
    assert await say(zoe, channel, zoe_id, "away 1", "away 2", "away 3") == [2, 3, 4]
    await chat.context.unroute("**/socket.io/**")

    await chat.expect_state("online", timeout=15_000)
    for text in ("away 1", "away 2", "away 3"):
        await expect(chat.message(text)).to_have_count(1)
    joins = [f for f in frames if '"type":1' in f and channel in f]
    assert any('"lastSeq":1' in f for f in joins), joins  # resumed after the offset it had seen
    history_reads = [url for url in chat.requests if f"/channels/{channel}/messages" in url]
    assert history_reads and not any(re.search(r"[?&](after|before)=", url) for url in history_reads), history_reads
    assert any("afterSeq=1" in url for url in history_reads)  # the part the replay left out
    await chat.send("after the cut")
    await zoe.event("messageBroadcast", where=lambda m: m["text"] == "after the cut")
    texts = await chat.page.locator(".msg .text").all_inner_texts()
    assert texts == ["before the cut", "away 1", "away 2", "away 3", "after the cut"]
