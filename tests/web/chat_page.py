"""One person using the web chat: a browser context of their own, so their own stored identity."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Locator, Page, expect

DESKTOP = {"width": 1200, "height": 760}

# What a browser does when a file from the desktop is dropped on the open channel.
DROP_FILES = """(files) => {
  const data = new DataTransfer();
  for (const [name, type, encoded] of files) {
    data.items.add(new File([Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0))], name, { type }));
  }
  const target = document.getElementById('messages');
  for (const kind of ['dragenter', 'dragover', 'drop']) {
    target.dispatchEvent(new DragEvent(kind, { dataTransfer: data, bubbles: true, cancelable: true }));
  }
}"""


class ChatPage:
    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.context = context
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("websocket", lambda socket: self.requests.append(socket.url))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # What the browser's console shows as an error: a failed request (a 404 included) or a logged error.
        page.on("console", lambda line: self.errors.append(line.text) if line.type == "error" else None)

    @classmethod
    async def open(
        cls, browser: Browser, url: str, *, name: str | None = None, viewport: Any = None, dark: bool = False
    ) -> ChatPage:
        context = await browser.new_context(viewport=viewport or DESKTOP, color_scheme="dark" if dark else "light")
        chat = cls(context, await context.new_page())
        await chat.page.goto(f"{url}/")
        await chat.expect_state("online")
        if name:
            await chat.page.fill("#me-name", name)
            await chat.page.press("#me-name", "Tab")
        return chat

    async def close(self) -> None:
        await self.context.close()

    # what the page shows ------------------------------------------------------------------

    @property
    def status(self) -> Locator:
        return self.page.get_by_test_id("connection-status")

    @property
    def input(self) -> Locator:
        return self.page.locator("#composer-input")

    @property
    def typing(self) -> Locator:
        return self.page.get_by_test_id("typing")

    def message(self, text: str) -> Locator:
        return self.page.locator(".msg", has=self.page.locator(".text", has_text=text))

    def note(self, kind: str) -> Locator:
        return self.page.locator(f".note[data-kind={kind}]")

    async def expect_state(self, state: str, timeout: float = 10_000) -> None:
        await expect(self.status).to_have_attribute("data-state", state, timeout=timeout)

    async def entity_id(self) -> str:
        return str(await self.page.evaluate("localStorage.getItem('eliza-chat.entityId')"))

    async def channel_id(self) -> str:
        return str(await self.page.get_attribute("#messages", "data-channel-id"))

    def hosts(self) -> set[str]:
        return {urlsplit(url).netloc for url in self.requests}

    # what the person does -----------------------------------------------------------------

    async def create_channel(self, name: str) -> str:
        await self.page.fill("#new-channel-name", name)
        await self.page.click("#new-channel button")
        await expect(self.page.locator("#room-title")).to_have_text(f"# {name}")
        return await self.channel_id()

    async def open_channel(self, channel_id: str) -> None:
        await self.page.fill("#join-channel-id", channel_id)
        await self.page.click("#join-channel button")
        await expect(self.page.locator("#messages")).to_have_attribute("data-channel-id", channel_id)

    def sidebar_channel(self, name: str) -> Locator:
        return self.page.locator("#channels button", has_text=name)

    def room_agent(self, name: str) -> Locator:
        return self.page.locator("#room-agent-list button", has_text=name)

    async def set_agent(self, name: str, present: bool) -> None:
        """Bring an agent into the open channel (or take it out) with its button above the messages."""
        button = self.room_agent(name)
        await expect(button).to_have_attribute("aria-pressed", str(not present).lower())
        await button.click()
        await expect(button).to_have_attribute("aria-pressed", str(present).lower())

    async def drop_file(self, name: str, data: bytes, content_type: str) -> None:
        await self.drop_files([(name, data, content_type)])

    async def drop_files(self, files: list[tuple[str, bytes, str]]) -> None:
        """Files dropped together on the open channel, as from the desktop."""
        encoded = [[name, kind, base64.b64encode(data).decode()] for name, data, kind in files]
        await self.page.evaluate(DROP_FILES, encoded)

    def staged(self, state: str) -> Locator:
        return self.page.locator(f"#composer-files .staged[data-state={state}]")

    async def open_dm(self, agent_name: str) -> None:
        await self.page.locator("#agents button", has_text=agent_name).click()
        await expect(self.page.locator("#room-title")).to_have_text(agent_name)

    async def send(self, text: str) -> Locator:
        """Type and press Enter; the message, once the server has stored it."""
        await self.input.fill(text)
        await self.input.press("Enter")
        sent = self.message(text)
        await expect(sent).to_have_attribute("data-state", "sent")
        return sent
