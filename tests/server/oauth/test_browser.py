"""The connect page in a real browser: headless Chromium (Debian's), driven by Playwright
(tests/browser.py); screenshots of each step as artefacts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.async_api import Browser, Page, Route

from descript_mcp.sandbox import Sandbox
from tests.browser import chromium, screenshot
from tests.server.oauth.conftest import REDIRECT_URI, App, pkce

pytestmark = pytest.mark.anyio


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def shot(page: Page, name: str) -> None:
    await screenshot(page, f"connect-{name}")


async def test_a_person_connects_in_a_browser(browser: Browser, app: App, sandbox: Sandbox) -> None:
    await app.register(client_name="Claude")
    verifier, challenge = pkce()
    context = await browser.new_context(viewport={"width": 390, "height": 740})  # a phone
    page = await context.new_page()
    arrived: list[str] = []

    async def the_app(route: Route) -> None:
        arrived.append(route.request.url)
        await route.fulfill(body="back in the app", content_type="text/plain")

    await page.route(f"{REDIRECT_URI}**", the_app)
    await page.goto(app.authorize_url(challenge))
    assert await page.text_content("#client-name") == "Claude"
    assert await page.text_content("#redirect-host") == "127.0.0.1:33418"
    await shot(page, "1-token")

    await page.fill("#token", "a-wrong-token")
    await page.click("button[value=check]")
    assert "did not accept this token" in (await page.text_content("#error") or "")
    await shot(page, "2-wrong-token")

    await page.fill("#token", sandbox.token)
    await page.click("button[value=check]")
    assert await page.text_content("#drive") == "Sandbox Drive"
    await shot(page, "3-confirm")
    await page.emulate_media(color_scheme="dark")
    await shot(page, "3-confirm-dark")

    await page.click("#confirm")
    await page.wait_for_url(f"{REDIRECT_URI}**")
    (location,) = arrived
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["xyz"]
    tokens = await app.exchange(query["code"][0], verifier)
    assert tokens.status_code == 200, tokens.text
    assert await app.mcp_status(tokens.json()["access_token"]) != 401
    await context.close()


async def test_the_browser_is_refused_a_form_without_its_csrf_token(
    browser: Browser, app: App, sandbox: Sandbox
) -> None:
    await app.register()
    _, challenge = pkce()
    # The page's CSP allows no script; the test's own must run to remove the field.
    context = await browser.new_context(bypass_csp=True)
    page = await context.new_page()
    await page.goto(app.authorize_url(challenge))
    await page.evaluate("document.querySelector('input[name=csrf]').remove()")
    await page.fill("#token", sandbox.token)
    await page.click("button[value=check]")
    assert await page.text_content("h1") == "This form could not be checked"
    await shot(page, "4-no-csrf")
    await context.close()
