"""The official ElizaOS web client (npm ``@elizaos/client``), served by this server with ``ELIZA_UI_DIR``,
driven in Chromium: chat with Eliza, every panel and page, and no API call answered with an error.

The client is fetched from the npm registry by exact version in the fixture (cached under ``.cache/``,
never committed). Every response of the server's ``/api`` is recorded: any 4xx/5xx fails the test, as
does any uncaught error in the page. Screenshots of each screen go to ``test-artifacts/``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, Response, expect

from tests.conftest import new_id, service_missing
from tests.support.npm_package import PackageUnavailable, unpacked
from tests.support.server import ServerProcess

CLIENT_PACKAGE = "@elizaos/client"
CLIENT_VERSION = "1.7.2"
DEFAULT_SERVER = "00000000-0000-0000-0000-000000000000"
VIEWPORT = {"width": 1600, "height": 1000}
# What the client shows when a panel or page could not load its data.
ERROR_TEXT = re.compile(r"failed to|error loading|not available|went wrong|not found|error:", re.IGNORECASE)
FIRST = "I feel a bit lost today"
SECOND = "My brother never listens to me"
# (tab label, its value in the client: the tab panel's id ends with -content-<value>)
PANELS = [("Details", "details"), ("Timeline", "timeline"), ("Model Calls", "actions"), ("Memories", "memories"),
          ("Logs", "logs")]  # fmt: skip


@pytest.fixture(scope="module")
def client_dist() -> Path:
    try:
        package = unpacked(CLIENT_PACKAGE, CLIENT_VERSION)
    except PackageUnavailable as exc:
        service_missing("the npm registry", str(exc))
    dist = package / "dist"
    assert (dist / "index.html").is_file(), f"{CLIENT_PACKAGE}@{CLIENT_VERSION} has no dist/index.html"
    return dist


class Recorder:
    """What went wrong while the client ran: /api answers of 4xx/5xx and uncaught page errors."""

    def __init__(self, page: Page, origin: str) -> None:
        self.origin = origin
        self.failed: list[str] = []
        self.page_errors: list[str] = []
        self.api_calls = 0
        page.on("response", self._response)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def _response(self, response: Response) -> None:
        url = urlsplit(response.url)
        if f"{url.scheme}://{url.netloc}" != self.origin or not url.path.startswith("/api/"):
            return
        self.api_calls += 1
        if response.status >= 400:
            self.failed.append(f"{response.request.method} {url.path}?{url.query} -> {response.status}")


async def settled(area: Locator, name: str, screenshots: Callable[[str], Path], page: Page) -> None:
    """No spinner left in ``area`` and no error text in it; a screenshot either way."""
    try:
        await expect(area.locator(".animate-spin")).to_have_count(0, timeout=15_000)
        await expect(area).not_to_contain_text(ERROR_TEXT, timeout=1_000)
    finally:
        await page.screenshot(path=screenshots(name))


def stored_dm(server: ServerProcess, entity: str) -> tuple[str, list[dict[str, object]]]:
    """The channel the client opened for our entity, with its messages oldest first."""
    channels = httpx.get(f"{server.url}/api/messaging/message-servers/{DEFAULT_SERVER}/channels").json()["data"]
    for channel in channels["channels"]:
        rows = httpx.get(f"{server.url}/api/messaging/channels/{channel['id']}/messages?limit=50").json()["data"]
        messages = list(reversed(rows["messages"]))
        if any(m["authorId"] == entity for m in messages):
            return channel["id"], messages
    return "", []


async def wait_for_reply(server: ServerProcess, entity: str, count: int) -> tuple[str, list[dict[str, object]]]:
    for _ in range(150):
        channel, messages = stored_dm(server, entity)
        if sum(m["sourceType"] == "agent_response" for m in messages) >= count:
            return channel, messages
        await asyncio.sleep(0.1)
    raise AssertionError(f"Eliza's reply {count} never reached the store: {messages}")


async def test_the_official_client_chats_and_every_panel_loads_with_no_failed_api_call(
    browser: Browser,
    server_factory: Callable[..., ServerProcess],
    client_dist: Path,
    artifacts: Path,
) -> None:
    server = server_factory({"ELIZA_UI_DIR": str(client_dist)})
    eliza = next(a for a in httpx.get(f"{server.url}/api/agents").json()["data"]["agents"] if a["name"] == "Eliza")
    entity = new_id()
    context = await browser.new_context(viewport=VIEWPORT)
    # A returning user: the onboarding tour seen, the agent panel open, an identity of its own.
    await context.add_init_script(
        f"""localStorage.setItem('eliza-onboarding-completed', 'true');
        localStorage.setItem('eliza-agent-sidebar-visible', 'true');
        localStorage.setItem('elizaos-client-user-id', '{entity}');"""
    )
    page = await context.new_page()
    recorder = Recorder(page, server.url)

    def screenshot(name: str) -> Path:
        return artifacts / f"elizaos-client-{name}.png"

    try:
        # The chat: a DM with Eliza opens, her reply arrives, the conversation is titled after three messages.
        await page.goto(f"{server.url}/chat/{eliza['id']}")
        await expect(
            page.get_by_text(f"v{httpx.get(f'{server.url}/api/system/version').json()['version']}")
        ).to_be_visible()
        composer = page.locator("textarea").first
        await composer.fill(FIRST)
        await composer.press("Enter")
        channel, messages = await wait_for_reply(server, entity, 1)
        reply = messages[-1]
        await expect(page.get_by_text(str(reply["content"]), exact=True)).to_be_visible()
        assert isinstance(reply["metadata"], dict) and reply["metadata"]["thought"]
        assert reply["metadata"]["actions"] == ["REPLY"] and reply["rawMessage"]["thought"]  # type: ignore[index]
        await expect(composer).to_be_enabled()
        await composer.fill(SECOND)
        await composer.press("Enter")
        _, messages = await wait_for_reply(server, entity, 2)
        await expect(page.get_by_text(str(messages[-1]["content"]), exact=True)).to_be_visible()
        await expect(page.get_by_text(FIRST, exact=True).first).to_be_visible()
        await expect(page.get_by_role("button", name=re.compile(f"^{FIRST}"))).to_be_visible()  # the title
        details = httpx.get(f"{server.url}/api/messaging/channels/{channel}/details").json()["data"]
        assert details["name"] == FIRST
        await page.screenshot(path=screenshot("chat"))

        # Every panel of the agent's sidebar.
        for label, value in PANELS:
            await page.get_by_role("tab", name=label).click()
            panel = page.locator(f"[role=tabpanel][id$='-content-{value}']")
            await expect(panel).to_be_visible()
            await settled(panel, f"panel-{value}", screenshot, page)
            if value == "details":
                await expect(panel.get_by_label("Username")).to_have_value("Eliza")
            if value == "timeline":
                await expect(panel.get_by_text(re.compile(r"^Run [0-9a-f]{8}")).first).to_be_visible()
            if value == "actions":
                await expect(panel.get_by_text("TEXT_SMALL").first).to_be_visible()
            if value == "memories":  # the replies' thought, as ElizaOS shows it
                await expect(panel.get_by_text(FIRST).first).to_be_visible()
                await expect(panel.get_by_text("Thought Process").first).to_be_visible()
            if value == "logs":
                await expect(panel.get_by_text("Live updates enabled")).to_be_visible()

        # The pages: global logs, environment settings, the agent's settings.
        for path, name in [("/logs", "logs"), ("/settings", "settings"), (f"/settings/{eliza['id']}", "agent")]:
            await page.goto(f"{server.url}{path}")
            main = page.locator("main")
            await expect(main).to_be_visible()
            await settled(main, f"page-{name}", screenshot, page)
        await expect(page.get_by_label("Username")).to_have_value("Eliza")
    finally:
        await context.close()

    assert recorder.api_calls > 20
    assert recorder.failed == []
    assert recorder.page_errors == []
