"""The test host page both views are loaded in (host/host.html): the real ext-apps bridge and
MCP TypeScript client, bundled once a module, served at descript-mcp's own origin by the
browser's router (no route of the server's)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.async_api import Browser, Page, Route

from descript_mcp.client.waiter import PollSchedule
from tests.browser import required

HOST = Path(__file__).parent / "host"
HOST_PATH = "/__test_host__/"
NODE_MODULES = Path(
    os.environ.get("DESCRIPT_MCP_NODE_MODULES")
    or Path(__file__).parents[3] / ".ci-node" / "node_modules"
)
# The sandbox serves its renders from a loopback address, which Chromium's local network
# access check refuses to a frame of opaque origin (the view's); Descript's media are on a
# public host, where the check does not apply.
PUBLIC_MEDIA_ON_LOOPBACK = "--disable-features=LocalNetworkAccessChecks"

# The view asks every second or two; the tests' usual 10 ms polls would spend the sandbox's
# rate limit (600 a minute) on the 4-second publishes and leave the follower waiting out a 429.
VIEW_PACED_POLL = PollSchedule(initial=0.2, factor=1.5, maximum=0.5)


@pytest.fixture(scope="module")
def host_bundle(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """host.js with the real bridge and client, bundled for the browser."""
    esbuild = NODE_MODULES / ".bin" / "esbuild"
    if not (NODE_MODULES / "@modelcontextprotocol" / "ext-apps").exists() or not esbuild.exists():
        required(
            f"@modelcontextprotocol/ext-apps and esbuild in {NODE_MODULES}",
            "npm install --prefix .ci-node as .ci/run does",
        )
    out = tmp_path_factory.mktemp("host") / "host.bundle.js"
    subprocess.run(
        [
            str(esbuild),
            str(HOST / "host.js"),
            "--bundle",
            "--format=esm",
            "--platform=browser",
            f"--outfile={out}",
            "--log-level=warning",
        ],
        check=True,
        env={**os.environ, "NODE_PATH": str(NODE_MODULES)},
    )
    return out.read_bytes()


async def open_host(
    browser: Browser, origin: str, bundle: bytes, query: dict[str, str]
) -> tuple[Page, list[str]]:
    """The host page at `origin`, once it has called the tool `query` names and shows the
    view; and every URL the page and the view requested."""
    page = await browser.new_page(viewport={"width": 640, "height": 900})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    async def host_files(route: Route) -> None:
        name = route.request.url.split(HOST_PATH, 1)[1].split("?", 1)[0]
        if name == "host.bundle.js":
            await route.fulfill(body=bundle, content_type="text/javascript")
        else:
            await route.fulfill(path=HOST / "host.html", content_type="text/html")

    await page.route(f"{origin}{HOST_PATH}**", host_files)
    await page.goto(f"{origin}{HOST_PATH}host.html?{urlencode(query)}")
    await page.wait_for_function("window.__host.ready || window.__host.error", timeout=30_000)
    assert await page.evaluate("window.__host.error") is None
    return page, requested
