"""The job view (MCP Apps) in a real browser: headless Chromium loads a test host page that uses
the host bridge of @modelcontextprotocol/ext-apps and the MCP TypeScript client, connected over
streamable HTTP to descript-mcp, which runs on the sandbox served on a loopback port.

The host's bundle is built with esbuild from the npm packages that .ci/run installs (in
$DESCRIPT_MCP_NODE_MODULES, default .ci-node/node_modules); without them, or without Chromium,
the tests are skipped unless DESCRIPT_MCP_REQUIRE_BROWSER is set."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from playwright.async_api import Browser, FrameLocator, Page

from descript_mcp.sandbox import Sandbox, serve, serve_app
from descript_mcp.server import build_server
from descript_mcp.server.http.run import http_app
from descript_mcp.settings import Settings
from tests.browser import chromium, screenshot
from tests.server.apps.conftest import PUBLIC_MEDIA_ON_LOOPBACK, VIEW_PACED_POLL, open_host
from tests.server.conftest import import_sample, structured

pytestmark = pytest.mark.anyio

HOSTILE_NAME = 'Clips/<img src=x onerror="window.hostile = 1">.wav'


@dataclass
class Served:
    origin: str  # descript-mcp's
    api_origin: str  # the sandbox's, where the rendered media are
    token: str
    sandbox: Sandbox

    def mcp(self) -> Any:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        return http, streamable_http_client(f"{self.origin}/mcp", http_client=http)


@pytest.fixture
async def served(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Served]:
    """descript-mcp over streamable HTTP, on the sandbox served over HTTP too (the browser
    loads the rendered media from it, as it would from Descript's download host)."""
    async with serve(sandbox) as api_url:
        settings = Settings(
            api_url=api_url,
            transport="http",
            history_path=tmp_path / "history.sqlite3",
            wait_seconds=10,
        )
        server = build_server(settings, poll_schedule=VIEW_PACED_POLL)
        async with serve_app(http_app(server, settings)) as origin:
            yield Served(origin, api_url.removesuffix("/v1"), sandbox.token, sandbox)


@pytest.fixture
async def browser(host_bundle: bytes, served: Served) -> AsyncIterator[Browser]:
    """Closed before the server stops: its pages hold the server's event streams open."""
    async with chromium(PUBLIC_MEDIA_ON_LOOPBACK) as launched:
        yield launched


async def _project(served: Served, name: str = "Episode") -> str:
    http, transport = served.mcp()
    async with http, Client(transport) as mcp:
        sample = {"sample.wav": {"url": f"{served.api_origin}/_sandbox/media/sample.wav"}}
        imported = await import_sample(mcp, name, add_media=sample)
    assert imported["outcome"] == "success"
    return str(imported["project_id"])


async def _open_host(
    browser: Browser,
    served: Served,
    bundle: bytes,
    tool: str,
    arguments: dict[str, Any],
    **view: Any,
) -> tuple[Page, FrameLocator, list[str]]:
    """The host page at the server's own origin, calling `tool`; and every URL the page and
    the view requested."""
    query = {"tool": tool, "args": json.dumps(arguments), "token": served.token, **view}
    page, requested = await open_host(browser, served.origin, bundle, query)
    return page, page.frame_locator("#app"), requested


async def test_a_publish_shows_progress_then_plays_and_opens_its_page(
    browser: Browser, served: Served, host_bundle: bytes
) -> None:
    shots = []
    for theme in ("light", "dark"):
        project = await _project(served, f"Episode ({theme})")  # the same call is not resent
        served.sandbox.config.timings.publish = 4.0  # long enough to be seen running
        page, view, requested = await _open_host(
            browser,
            served,
            host_bundle,
            "publish",
            {"project_id": project, "wait_seconds": 0},
            theme=theme,
        )
        result = await page.evaluate("window.__host.toolResult.structuredContent")
        assert result["finished"] is False
        await view.locator("#label", has_text="Rendering").wait_for()
        assert await view.locator("#kind").text_content() == "Publish"
        assert await view.locator("#state").text_content() == "running"
        shots.append(await screenshot(page.locator("#app"), f"job-view-publish-running-{theme}"))

        player = view.locator("#media-player")
        await player.wait_for(timeout=30_000)
        assert await view.locator("#state").text_content() == "success"
        duration = await player.evaluate(
            """element => new Promise((resolve, reject) => {
                const done = () => resolve(element.duration);
                const failed = () => reject(new Error(`media: ${element.error?.message}`));
                if (element.readyState >= 1) return done();
                if (element.error) return failed();
                element.addEventListener("loadedmetadata", done);
                element.addEventListener("error", failed);
                setTimeout(() => reject(new Error("no metadata in 20 s")), 20000);
            })"""
        )
        assert duration == pytest.approx(12.0, abs=0.1)  # the sandbox's real render
        assert await player.evaluate("element => element.tagName") == "AUDIO"
        assert (
            "Audio · the file's link is valid until" in await view.locator("#detail").inner_text()
        )
        shots.append(await screenshot(page.locator("#app"), f"job-view-publish-finished-{theme}"))

        share_url = await view.locator("#share-url").text_content()
        await view.locator("#open").click()
        await page.wait_for_function("window.__host.openedLinks.length > 0")
        assert await page.evaluate("window.__host.openedLinks") == [share_url]
        # The view reached the server only through the host, and only to follow its job.
        calls = await page.evaluate("window.__host.appToolCalls")
        assert calls
        assert {c["name"] for c in calls} == {"get_job"}
        assert {c["arguments"]["job_id"] for c in calls} == {result["job_id"]}
        # Nothing but the host, its MCP endpoint and the rendered media was fetched.
        elsewhere = [
            url
            for url in requested
            if not url.startswith((served.origin, served.api_origin)) and url != "about:srcdoc"
        ]
        assert elsewhere == []
        media = {url for url in requested if url.startswith(served.api_origin)}
        assert media == {await player.get_attribute("src")}
        await page.close()
    assert all(path.stat().st_size > 5_000 for path in shots)


HOSTILE_LINKS = (
    "javascript:window.parent.postMessage('hostile', '*')",
    " JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "http://phish.example/view/abc",
    "//phish.example/view/abc",
)


async def test_a_hostile_share_or_download_url_is_neither_opened_nor_played(
    browser: Browser, served: Served, host_bundle: bytes
) -> None:
    """A result whose share_url or download_url is not an https link (nor the sandbox's own
    origin) shows no link, opens nothing and plays nothing; an https share page still opens."""
    project = await _project(served)
    for hostile in HOSTILE_LINKS:
        page, view, requested = await _open_host(
            browser,
            served,
            host_bundle,
            "publish",
            {"project_id": project},  # the same call: answered with the first publish's job
            patch=json.dumps({"share_url": hostile, "download_url": hostile}),
        )
        await view.locator("#state", has_text="success").wait_for()
        assert await view.locator("#share").is_hidden()
        assert await view.locator("#share-url").get_attribute("href") is None
        assert await view.locator("#media-player").count() == 0
        await view.locator("#open").dispatch_event("click")  # even if it were clicked
        # The view's messages reach the host in order: a link it opens after the click is
        # the barrier, and nothing may come before it.
        await view.locator("body").evaluate(
            "() => request('ui/open-link', {url: 'https://barrier.example/'})"
        )
        assert await page.evaluate("window.__host.openedLinks") == ["https://barrier.example/"]
        fetched = [url.split("?")[0] for url in requested]
        assert not [url for url in fetched if "phish" in url or url.startswith("data:")]
        await page.close()
    share_page = "https://share.descript.com/view/abc123"
    page, view, _ = await _open_host(
        browser,
        served,
        host_bundle,
        "publish",
        {"project_id": project},
        patch=json.dumps({"share_url": share_page}),
    )
    await view.locator("#open").click()
    await page.wait_for_function("window.__host.openedLinks.length > 0")
    assert await page.evaluate("window.__host.openedLinks") == [share_page]


async def test_the_views_own_policy_allows_media_alone(
    browser: Browser, served: Served, host_bundle: bytes
) -> None:
    """The host allows the declared origins for scripts, styles, images and media alike (the
    MCP Apps policy has no field for media alone); the view's own policy narrows that to media:
    an image or a script from the media's own origin is never fetched in the view."""
    project = await _project(served)
    page, view, _ = await _open_host(
        browser, served, host_bundle, "publish", {"project_id": project}
    )
    await view.locator("#media-player").wait_for(timeout=30_000)
    answered: list[str] = []
    page.on("response", lambda response: answered.append(response.url))
    async with (
        page.expect_event("requestfailed", lambda r: "?as=img" in r.url) as img,
        page.expect_event("requestfailed", lambda r: "?as=script" in r.url) as script,
    ):
        await view.locator("body").evaluate(
            """(body, origin) => ["img", "script"].forEach((tag) => {
                const element = document.createElement(tag);
                element.src = `${origin}/_sandbox/media/sample.wav?as=${tag}`;
                body.appendChild(element);
            })""",
            served.api_origin,
        )
    assert not [url for url in answered if "?as=" in url]
    # Refused by a policy, not the network; the host's allows images from that origin.
    assert ((await img.value).failure, (await script.value).failure) == ("csp", "csp")
    await page.close()


async def test_an_import_lists_its_media_in_a_narrow_frame(
    browser: Browser, served: Served, host_bundle: bytes
) -> None:
    sample = f"{served.api_origin}/_sandbox/media/sample.wav"
    page, view, _ = await _open_host(
        browser,
        served,
        host_bundle,
        "import_media",
        {
            "project_name": "From the view",
            "add_media": {name: {"url": sample} for name in ("sample.wav", HOSTILE_NAME)},
        },
        width="300",
    )
    await view.locator("#state", has_text="success").wait_for()
    assert sorted(await view.locator("#media li").all_text_contents()) == sorted(
        ["sample.wav: success (12 s)", f"{HOSTILE_NAME}: success (12 s)"]
    )
    # A name anyone on the drive can write is shown as text: no element made, no script run.
    assert await view.locator("#media img").count() == 0
    assert await view.locator("body").evaluate("() => window.hostile === undefined")
    overflow = await view.locator("body").evaluate(
        "body => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    await screenshot(page.locator("#app"), "job-view-import-narrow")


async def test_an_agent_edit_shows_the_answer_and_the_credits(
    browser: Browser, served: Served, host_bundle: bytes
) -> None:
    project = await _project(served)
    page, view, _ = await _open_host(
        browser,
        served,
        host_bundle,
        "agent_edit",
        {"project_id": project, "prompt": "Remove filler words"},
        theme="dark",
    )
    result = await page.evaluate("window.__host.toolResult.structuredContent")
    await view.locator("#state", has_text="success").wait_for()
    assert await view.locator("#kind").text_content() == "Agent edit"
    assert await view.locator("#answer").text_content() == result["agent_response"]
    credits = await view.locator("#credits").text_content()
    assert credits.startswith(f"{result['ai_credits_used']:g} AI credits used")
    await screenshot(page.locator("#app"), "job-view-agent-dark")


async def test_a_client_without_apps_sees_the_same_results(served: Served) -> None:
    """The view changes no tool's behaviour: the same calls give the same results to a client
    that negotiated Apps and to one that did not."""
    from mcp.client.extension import advertise

    project = await _project(served)
    apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
    http, transport = served.mcp()
    async with http, Client(transport) as plain:
        published = structured(await plain.call_tool("publish", {"project_id": project}))
        seen_plain = await plain.call_tool("get_job", {"job_id": published["job_id"]})
        listed_plain = (await plain.list_tools()).tools
    http, transport = served.mcp()
    async with http, Client(transport, extensions=[apps]) as with_apps:
        seen_apps = await with_apps.call_tool("get_job", {"job_id": published["job_id"]})
        listed_apps = (await with_apps.list_tools()).tools
    assert seen_apps.structured_content == seen_plain.structured_content
    assert seen_apps.content == seen_plain.content
    assert [t.model_dump() for t in listed_apps] == [t.model_dump() for t in listed_plain]


async def test_the_view_is_one_document_bound_to_the_job_tools_with_a_narrow_policy() -> None:
    from mcp.client.extension import advertise

    from descript_mcp.server.job_view import JOB_VIEW_URI

    apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
    for api_url, origins in (
        ("https://descriptapi.com/v1", ["https://storage.googleapis.com"]),
        ("http://127.0.0.1:8765/v1", ["https://storage.googleapis.com", "http://127.0.0.1:8765"]),
    ):
        async with Client(build_server(Settings(api_url=api_url)), extensions=[apps]) as mcp:
            bound = {
                tool.name
                for tool in (await mcp.list_tools()).tools
                if (tool.meta or {}).get("ui", {}).get("resourceUri") == JOB_VIEW_URI
            }
            (view,) = (await mcp.read_resource(JOB_VIEW_URI)).contents
        assert bound == {"import_media", "agent_edit", "publish", "get_job", "cancel_job"}
        assert view.mime_type == "text/html;profile=mcp-app"
        assert view.meta == {"ui": {"csp": {"resourceDomains": origins}}}
        html = view.text  # type: ignore[union-attr]
        assert f"media-src {' '.join(origins)};" in html
    assert "unsafe-inline" not in html
    for fetching in ("fetch(", "XMLHttpRequest", "WebSocket", "import(", "src=", 'href="http'):
        assert fetching not in html
    assert "innerHTML" not in html  # Descript's text is set as text
