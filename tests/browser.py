"""Debian's Chromium, driven by Playwright, for the tests of pages: the connect page, the job
view. Without Chromium those tests are skipped, unless DESCRIPT_MCP_REQUIRE_BROWSER is set (CI
sets it). Screenshots go to $DESCRIPT_MCP_ARTIFACTS (default: artifacts/ in the checkout)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# As root, in a closed network: no sandbox, no background connections.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("DESCRIPT_MCP_ARTIFACTS") or Path(__file__).parents[1] / "artifacts"
)


def required(what: str, how: str) -> None:
    """Fail when CI requires the browser tests, else skip them: `what` is missing."""
    if os.environ.get("DESCRIPT_MCP_REQUIRE_BROWSER"):
        pytest.fail(f"{what} is required and missing")
    pytest.skip(f"{what} is missing ({how})")


@asynccontextmanager
async def chromium(*flags: str) -> AsyncIterator[Browser]:
    """Chromium with FLAGS and `flags`."""
    if not Path(CHROMIUM).exists():
        required(f"Chromium at {CHROMIUM}", "apt-get install chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=[*FLAGS, *flags])
        try:
            yield launched
        finally:
            await launched.close()


async def screenshot(page: Page | Locator, name: str) -> Path:
    """The whole page, or one element of it."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if isinstance(page, Locator):
        await page.screenshot(path=str(path))
    else:
        await page.screenshot(path=str(path), full_page=True)
    return path
