"""The web chat at ``/`` in a real headless Chromium, against a real server process."""

from __future__ import annotations

import asyncio
import json
import re
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, Locator, expect

from tests.conftest import new_id
from tests.support.fake_openai import FakeOpenAI
from tests.support.server import ServerProcess
from tests.web.chat_page import ChatPage

DEFAULT_SERVER = "00000000-0000-0000-0000-000000000000"


def stored_texts(server: ServerProcess, channel_id: str) -> list[str]:
    body = httpx.get(f"{server.url}/api/messaging/channels/{channel_id}/messages?limit=50").json()
    return [m["text"] for m in reversed(body["data"]["messages"])]


async def test_page_loads_from_this_server_only_sends_and_shows_history(
    browser: Browser, server: ServerProcess
) -> None:
    chat = await ChatPage.open(browser, server.url, name="Ada")
    channel = await chat.create_channel("general")

    sent = await chat.send("Hello from the web chat")

    assert await sent.get_attribute("data-id")  # the server's id, so the server has it
    assert stored_texts(server, channel) == ["Hello from the web chat"]
    await chat.page.reload()  # the channel is in the address: it reopens with its history
    await expect(chat.message("Hello from the web chat")).to_have_attribute("data-state", "sent")
    await expect(chat.page.locator("#channels button", has_text="general")).to_have_attribute("aria-current", "page")
    assert chat.hosts() == {f"127.0.0.1:{server.port}"}, chat.requests
    assert chat.errors == []


async def test_two_people_in_a_channel_see_each_other_live(browser: Browser, server: ServerProcess) -> None:
    ada = await ChatPage.open(browser, server.url, name="Ada")
    bob = await ChatPage.open(browser, server.url, name="Bob")
    channel = await ada.create_channel("pair")

    await bob.open_channel(channel)
    await expect(ada.note("joined")).to_have_count(1)  # presence: Bob came in

    await bob.input.press_sequentially("typing something")
    await expect(ada.typing).to_contain_text("is typing")
    await bob.input.fill("")
    await bob.send("Hi Ada, Bob here")
    await expect(ada.message("Hi Ada, Bob here")).to_be_visible()
    await expect(ada.message("Hi Ada, Bob here").locator(".name")).to_have_text("Bob")
    await expect(ada.typing).not_to_contain_text("typing")

    await ada.send("Hi Bob")
    await expect(bob.message("Hi Bob")).to_be_visible()
    await expect(bob.message("Hi Bob")).to_have_class(re.compile(r"\btheirs\b"))

    await bob.close()
    await expect(ada.note("left")).to_contain_text("Bob left")
    assert ada.errors == []


RECORD_AGENT_BUBBLES = """() => {
  window.__seen = [];
  const list = document.getElementById('messages');
  const input = document.getElementById('composer-input');
  new MutationObserver(() => {
    for (const el of list.querySelectorAll('.msg.agent')) {
      window.__seen.push({id: el.dataset.id, state: el.dataset.state, text: el.querySelector('.text').textContent});
    }
  }).observe(list, {subtree: true, childList: true, characterData: true, attributes: true});
  new MutationObserver(() => window.__seen.push({inputDisabled: input.disabled}))
    .observe(input, {attributes: true, attributeFilter: ['disabled']});
}"""


async def test_a_dm_with_eliza_streams_her_reply(browser: Browser, server: ServerProcess, artifacts: Path) -> None:
    chat = await ChatPage.open(browser, server.url, name="Ada")
    await chat.open_dm("Eliza")
    await expect(chat.page.locator("#room-subtitle")).to_have_text("Direct message with Eliza")  # a name, no UUID
    channel = await chat.channel_id()
    await chat.page.evaluate(RECORD_AGENT_BUBBLES)

    await chat.send("I feel sad about my job")

    reply = chat.page.locator(".msg.agent")
    await expect(reply).to_have_attribute("data-state", "sent", timeout=15_000)
    await expect(chat.input).to_be_enabled()
    await expect(reply).to_have_count(1)  # the streamed bubble became the stored reply
    final = await reply.locator(".text").inner_text()
    assert stored_texts(server, channel) == ["I feel sad about my job", final]

    seen: list[dict[str, Any]] = await chat.page.evaluate("window.__seen")
    streamed = [s["text"] for s in seen if s.get("state") == "streaming" and s["text"]]
    assert streamed, f"no chunk was shown before the final text: {seen}"
    assert all(final.startswith(text.rstrip()) for text in streamed)
    assert len(set(streamed)) > 1  # the bubble grew chunk by chunk
    assert len(streamed[0]) < len(final)
    locks = [s["inputDisabled"] for s in seen if "inputDisabled" in s]
    assert [lock for i, lock in enumerate(locks) if i == 0 or lock != locks[i - 1]] == [True, False]

    await chat.send("Why do you ask?")
    await expect(reply).to_have_count(2, timeout=15_000)
    await expect(reply.last).to_have_attribute("data-state", "sent", timeout=15_000)
    await chat.page.screenshot(path=str(artifacts / "web-chat.png"))
    await chat.page.set_viewport_size({"width": 390, "height": 760})
    await expect(chat.page.locator("#menu-toggle")).to_be_visible()
    await chat.page.wait_for_timeout(300)  # the sidebar slides out of view
    await chat.page.screenshot(path=str(artifacts / "web-chat-narrow.png"))
    assert chat.errors == []


async def test_a_failed_reply_keeps_its_partial_text_and_says_why(
    browser: Browser, server_factory: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    with FakeOpenAI(reply="one two three four five six", mode="drop", fail_after=2) as fake:
        character = tmp_path / "flaky.json"
        settings = {"model_provider": "openai", "OPENAI_BASE_URL": fake.base_url, "max_retries": "0", "timeout": "2"}
        character.write_text(json.dumps({"name": "Flaky", "settings": settings}))
        server = server_factory({"ELIZA_CHARACTERS": str(character), "ELIZA_AGENT_TIMEOUT": "3"})
        chat = await ChatPage.open(browser, server.url, name="Ada")
        await chat.open_dm("Flaky")

        await chat.send("are you there?")

        reply = chat.page.locator(".msg.agent")
        await expect(reply).to_have_attribute("data-state", "error", timeout=15_000)
        await expect(reply.locator(".text")).to_have_text(re.compile(r"^\s*one two\s*$"))
        await expect(reply.locator(".meta")).to_contain_text("The reply failed")
        await expect(chat.input).to_be_enabled()
        await chat.send("still here")  # the composer works again, and the failed reply stays in its place
        texts = [t.strip() for t in await chat.page.locator(".msg .text").all_inner_texts()]
        assert texts[:3] == ["are you there?", "one two", "still here"]


async def test_after_a_server_restart_the_page_rejoins_and_fills_the_gap(
    browser: Browser, server_factory: Callable[..., ServerProcess], clients: Any
) -> None:
    server = server_factory()
    chat = await ChatPage.open(browser, server.url, name="Ada")
    channel = await chat.create_channel("resilient")
    await chat.send("before the restart")

    server.stop()
    await chat.expect_state("reconnecting")
    await expect(chat.page.get_by_test_id("banner")).to_be_visible()
    # Keep the page away (its reconnect attempts fail) until the other client has spoken.
    await chat.context.route("**/socket.io/**", lambda route: route.abort())
    server.start()
    zoe_id = new_id()
    zoe = await clients(server.url, auth={"entityId": zoe_id})
    await zoe.connected()
    ack = await zoe.call(
        "message",
        {
            "type": 2,
            "payload": {
                "channelId": channel,
                "messageServerId": DEFAULT_SERVER,
                "senderId": zoe_id,
                "senderName": "Zoe",
                "message": "sent while you were away",
                "messageId": new_id(),
            },
        },
    )
    assert ack["success"] is True
    assert await chat.status.get_attribute("data-state") == "reconnecting"  # so only a catch-up can show it
    await chat.context.unroute("**/socket.io/**")  # socket.io-client's next retry gets through

    await chat.expect_state("online", timeout=15_000)
    await expect(chat.page.get_by_test_id("banner")).to_be_hidden()
    await expect(chat.message("sent while you were away")).to_be_visible()
    await expect(chat.message("before the restart")).to_have_count(1)
    await chat.send("after the restart")  # rejoined: Zoe hears it live
    heard = await zoe.event("messageBroadcast", where=lambda m: m["text"] == "after the restart")
    assert heard["channelId"] == channel
    texts = await chat.page.locator(".msg .text").all_inner_texts()
    assert texts == ["before the restart", "sent while you were away", "after the restart"]


async def test_the_sidebar_lists_the_channels_the_visitor_takes_part_in(
    browser: Browser, server: ServerProcess, clients: Any
) -> None:
    name = f"lobby-{new_id()[:8]}"
    ada = await ChatPage.open(browser, server.url, name="Ada")
    channel = await ada.create_channel(name)
    await ada.send("welcome to the lobby")
    # Another client uses a room of its own: the server makes it an auto-named channel of the default server.
    zoe_id, elsewhere = new_id(), new_id()
    zoe = await clients(server.url, auth={"entityId": zoe_id})
    await zoe.connected()
    joined = await zoe.call("message", {"type": 1, "payload": {"channelId": elsewhere, "entityId": zoe_id}})
    assert joined["success"] is True
    listing = httpx.get(f"{server.url}/api/messaging/message-servers/{DEFAULT_SERVER}/channels").json()
    assert {channel, elsewhere} <= {c["id"] for c in listing["data"]["channels"]}

    bob = await ChatPage.open(browser, server.url, name="Bob")
    await expect(bob.page.locator("#channels-empty")).to_be_visible()  # none of them is Bob's
    await expect(bob.page.locator("#channels button")).to_have_count(0)

    await bob.open_channel(channel)  # by id: the name comes from the channel's details, once joined
    await expect(bob.page.locator("#room-title")).to_have_text(f"# {name}")
    await expect(bob.message("welcome to the lobby")).to_be_visible()
    await expect(bob.sidebar_channel(name)).to_have_attribute("aria-current", "page")
    await bob.page.evaluate("localStorage.removeItem('eliza-chat.recentChannels')")
    await bob.page.goto(f"{server.url}/")  # the list comes from the server: Bob takes part now
    await expect(bob.sidebar_channel(name)).to_be_visible()
    await expect(bob.page.locator("#channels button")).to_have_count(1)
    await expect(ada.page.locator("#channels button")).to_have_count(1)
    assert not await ada.page.locator("#channels button", has_text=elsewhere[:8]).count()

    carol = await ChatPage.open(browser, server.url, name="Carol")
    carol_id = await carol.entity_id()
    participants = httpx.get(f"{server.url}/api/messaging/channels/{channel}/participants").json()["data"]
    added = httpx.patch(
        f"{server.url}/api/messaging/channels/{channel}", json={"participantCentralUserIds": [*participants, carol_id]}
    )
    assert added.status_code == 200, added.text
    await carol.page.reload()  # added by someone else: listed without ever opening it
    await carol.sidebar_channel(name).click()
    await expect(carol.message("welcome to the lobby")).to_be_visible()
    assert ada.errors == [] and bob.errors == [] and carol.errors == []


async def test_a_new_channel_brings_eliza_in_and_out(browser: Browser, server: ServerProcess, artifacts: Path) -> None:
    ada = await ChatPage.open(browser, server.url, name="Ada")
    channel = await ada.create_channel(f"with-eliza-{new_id()[:6]}")
    await expect(ada.room_agent("Eliza")).to_have_attribute("aria-pressed", "false")

    await ada.set_agent("Eliza", True)
    listed = httpx.get(f"{server.url}/api/agents").json()["data"]["agents"]
    eliza = next(a["id"] for a in listed if a["name"] == "Eliza")
    agents = httpx.get(f"{server.url}/api/messaging/channels/{channel}/agents").json()["data"]["agents"]
    assert agents == [eliza]
    await ada.send("Hello Eliza, I feel anxious about tomorrow")
    reply = ada.page.locator(".msg.agent")
    await expect(reply).to_have_attribute("data-state", "sent", timeout=15_000)
    await expect(reply.locator(".name")).to_have_text("Eliza")
    assert len(stored_texts(server, channel)) == 2
    await ada.page.screenshot(path=str(artifacts / "web-chat-channel-with-eliza.png"))

    await ada.set_agent("Eliza", False)
    assert httpx.get(f"{server.url}/api/messaging/channels/{channel}/agents").json()["data"]["agents"] == []
    await ada.send("Eliza, are you still there?")
    await ada.page.wait_for_timeout(1_500)  # she would have begun by now (she answers when named)
    await expect(reply).to_have_count(1)
    assert len(stored_texts(server, channel)) == 3
    assert ada.errors == []


async def test_load_older_pages_back_by_offset_on_scroll(
    browser: Browser, server: ServerProcess, artifacts: Path
) -> None:
    channel, author = new_id(), new_id()
    for n in range(1, 121):
        posted = httpx.post(
            f"{server.url}/api/messaging/channels/{channel}/messages",
            json={"author_id": author, "content": f"note {n:03d}", "metadata": {"channelName": "archive"}},
        )
        assert posted.status_code == 201, posted.text
    chat = await ChatPage.open(browser, server.url, name="Ada")
    await chat.open_channel(channel)
    texts = chat.page.locator(".msg .text")
    await expect(texts).to_have_count(50)  # the newest page
    await expect(texts.first).to_have_text("note 071")
    edge = chat.page.get_by_test_id("history-edge")
    await expect(edge).to_have_attribute("data-more", "true")

    await chat.page.locator("#messages").evaluate("el => { el.scrollTop = 0; }")
    await expect(texts).to_have_count(100)
    await expect(texts.first).to_have_text("note 021")
    # What was at the top stays in view: the page did not jump to the oldest message.
    assert await chat.page.locator("#messages").evaluate("el => el.scrollTop") > 0
    await chat.page.locator("#messages").evaluate("el => { el.scrollTop = 0; }")
    await expect(texts).to_have_count(120)
    await expect(edge).to_have_attribute("data-more", "false")
    await expect(edge).to_have_text("The beginning of this conversation")
    assert await texts.all_inner_texts() == [f"note {n:03d}" for n in range(1, 121)]
    await chat.page.screenshot(path=str(artifacts / "web-chat-load-older.png"))
    assert chat.errors == []


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two computed CSS colours (``rgb(r, g, b)``)."""

    def luminance(color: str) -> float:
        r, g, b = (int(v) / 255 for v in re.findall(r"\d+", color)[:3])
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


SELECTED_COLORS = """(el) => {
  const style = getComputedStyle(el);
  return [style.color, style.backgroundColor];
}"""


async def colors_of(locator: Locator) -> tuple[str, str]:
    """The computed text and background colours of what ``locator`` finds once it is in the page: a
    sidebar that re-renders can detach the element found, and a detached one has no computed style."""
    deadline = time.monotonic() + 5
    while True:
        color, background = await locator.evaluate(SELECTED_COLORS)
        if (color and background) or time.monotonic() > deadline:
            return color, background
        await asyncio.sleep(0.05)


async def test_the_selected_item_is_readable_in_dark_mode(
    browser: Browser, server: ServerProcess, artifacts: Path
) -> None:
    for dark in (True, False):
        chat = await ChatPage.open(browser, server.url, name="Ada", dark=dark)
        name = f"contrast-{new_id()[:6]}"
        await chat.create_channel(name)
        selected = chat.sidebar_channel(name)
        await expect(selected).to_have_attribute("aria-current", "page")
        await chat.page.mouse.move(600, 400)  # not hovering the item
        color, background = await colors_of(selected)
        assert contrast(color, background) >= 4.5, (dark, color, background)  # WCAG AA, normal text
        await chat.send("my own bubble is readable too")
        bubble = chat.message("my own bubble is readable too").locator(".bubble")
        color, background = await colors_of(bubble)
        assert contrast(color, background) >= 4.5, (dark, color, background)
        if dark:
            await chat.page.screenshot(path=str(artifacts / "web-chat-dark.png"))
        await chat.close()


async def test_deleted_and_cleared_messages_leave_the_page(browser: Browser, server: ServerProcess) -> None:
    chat = await ChatPage.open(browser, server.url, name="Ada")
    channel = await chat.create_channel("tidy")
    keep = await chat.send("this one stays")
    gone = await chat.send("this one goes")
    gone_id = await gone.get_attribute("data-id")

    deleted = httpx.delete(f"{server.url}/api/messaging/channels/{channel}/messages/{gone_id}")
    assert deleted.status_code == 204
    await expect(chat.message("this one goes")).to_have_count(0)  # messageDeleted
    await expect(keep).to_be_visible()

    cleared = httpx.delete(f"{server.url}/api/messaging/channels/{channel}/messages")
    assert cleared.status_code == 204
    await expect(chat.message("this one stays")).to_have_count(0)  # channelCleared
    assert chat.errors == []


def picture(width: int = 160, height: int = 100) -> bytes:
    """A real PNG a browser draws: a colour gradient of this size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 180)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# Waits for the image to load and be decoded (rejects when the browser cannot draw it).
NATURAL_WIDTH = "img => img.decode().then(() => img.naturalWidth)"


async def test_a_dropped_picture_is_uploaded_and_shown_to_the_other_members(
    browser: Browser, server: ServerProcess, artifacts: Path
) -> None:
    ada = await ChatPage.open(browser, server.url, name="Ada")
    bob = await ChatPage.open(browser, server.url, name="Bob")
    channel = await ada.create_channel(f"pictures-{new_id()[:6]}")
    await bob.open_channel(channel)
    image = picture()

    await ada.drop_file("sunset.png", image, "image/png")
    await expect(ada.staged("ready")).to_have_count(1)
    await expect(ada.staged("ready")).to_contain_text("sunset.png")
    await ada.send("look at this sunset")
    await expect(ada.staged("ready")).to_have_count(0)

    shown = bob.message("look at this sunset").locator(".file-image img")
    await expect(shown).to_be_visible()
    await expect(shown).to_have_attribute("alt", "sunset.png")
    assert await shown.evaluate(NATURAL_WIDTH) == 160  # drawn: the server serves an image
    src = str(await shown.get_attribute("src"))
    assert src.startswith(f"{server.url}/media/uploads/channels/{channel}/"), src
    assert httpx.get(src).content == image
    assert await ada.message("look at this sunset").locator("img").evaluate(NATURAL_WIDTH) == 160
    history = httpx.get(f"{server.url}/api/messaging/channels/{channel}/messages?limit=5").json()["data"]["messages"]
    stored = history[0]["attachments"]
    assert [(a["url"], a["title"], a["contentType"]) for a in stored] == [
        (src.removeprefix(server.url), "sunset.png", "image")
    ]

    # A file picked with the button, sent without text: a link to it, for Bob too.
    await ada.page.locator("#file-input").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"shopping: eggs, milk\n"}]
    )
    await expect(ada.staged("ready")).to_have_count(1)
    await ada.page.click("#send")
    link = bob.page.locator(".msg a.file", has_text="notes.txt")
    await expect(link).to_be_visible()
    assert httpx.get(str(await link.get_attribute("href"))).content == b"shopping: eggs, milk\n"

    await bob.page.reload()  # from the history too
    assert await bob.message("look at this sunset").locator("img").evaluate(NATURAL_WIDTH) == 160
    await expect(bob.page.locator(".msg a.file", has_text="notes.txt")).to_be_visible()
    await bob.page.screenshot(path=str(artifacts / "web-chat-attachment.png"))
    assert ada.errors == [] and bob.errors == []


async def test_a_file_the_server_refuses_is_not_sent_and_the_page_says_why(
    browser: Browser, server: ServerProcess
) -> None:
    chat = await ChatPage.open(browser, server.url, name="Ada")
    channel = await chat.create_channel(f"refusals-{new_id()[:6]}")
    await chat.drop_file("tool.exe", b"MZ\x90\x00" + bytes(200), "application/octet-stream")
    note = chat.note("error")
    await expect(note).to_contain_text("Could not upload tool.exe")
    await expect(note).to_contain_text("image/png")  # the server's sentence lists what it takes
    await expect(chat.staged("ready")).to_have_count(0)
    await expect(chat.staged("uploading")).to_have_count(0)
    await expect(chat.page.locator("#send")).to_be_disabled()
    assert stored_texts(server, channel) == []
    assert [e for e in chat.errors if "415" not in e] == []  # the browser logs the refused request itself


async def test_one_message_takes_at_most_ten_files(
    browser: Browser, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory({"ELIZA_UPLOAD_RATE": "0"})
    chat = await ChatPage.open(browser, server.url, name="Ada")
    channel = await chat.create_channel("many-files")
    await chat.drop_files([(f"part-{n:02d}.txt", f"part {n}\n".encode(), "text/plain") for n in range(12)])
    await expect(chat.note("error")).to_contain_text("At most 10 files go with one message")
    await expect(chat.staged("ready")).to_have_count(10)
    await chat.page.click("#send")
    await expect(chat.staged("ready")).to_have_count(0)
    sent = chat.page.locator(".msg[data-state=sent] a.file")
    await expect(sent).to_have_count(10)
    history = httpx.get(f"{server.url}/api/messaging/channels/{channel}/messages").json()["data"]["messages"]
    assert [a["title"] for a in history[0]["attachments"]] == [f"part-{n:02d}.txt" for n in range(10)]
    assert chat.errors == []
