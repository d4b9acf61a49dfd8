"""A real headless Chromium (Debian's, at /usr/bin/chromium) driven by Playwright, one per test.

Without Chromium these tests skip with the reason, except in CI (``CI=true``), where they fail:
``scripts/install-browser.sh`` (called by ``scripts/test.sh``) installs it. Playwright's own browser
download (``playwright install``) is never used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.conftest import service_missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _require_chromium() -> None:
    if not CHROMIUM.exists():
        service_missing(
            "Chromium", f"Chromium is not installed at {CHROMIUM}; install it with scripts/install-browser.sh"
        )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
