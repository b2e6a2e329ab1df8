"""The upload view (MCP Apps) in a real browser, in the OAuth mode a team's hosted server runs:
headless Chromium loads the test host page (the ext-apps host bridge and the MCP TypeScript
client over streamable HTTP, with an access token from the server's own OAuth flow), which shows
the view of upload_media. A person picks real files; the view starts the import through the
host, sends the bytes from the browser straight to the sandbox's signed upload URLs, and follows
the import to its end.

Between the browser and the sandbox's storage sits `StorageLine`, a stand-in for the network:
it can hold an upload after some bytes until the test lets it go (to see it mid-way), or answer
one PUT with a 503. Before descript-mcp sits `RequestLog`, which counts the bytes of every
request the server receives."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from playwright.async_api import Browser, CDPSession, FrameLocator, Page
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench._sandbox import free_port
from descript_mcp.sandbox import Sandbox
from descript_mcp.sandbox.app import API_PREFIX
from descript_mcp.sandbox.media import mp4_head, synthesize_wav
from descript_mcp.sandbox.server import serve_app
from descript_mcp.server import build_server
from descript_mcp.server.http.run import http_app
from descript_mcp.settings import Settings
from tests.browser import ARTIFACTS, chromium, screenshot
from tests.server.apps.conftest import PUBLIC_MEDIA_ON_LOOPBACK, VIEW_PACED_POLL, open_host
from tests.server.oauth.conftest import App, Hosted, Person

pytestmark = pytest.mark.anyio

UPLOADS = "/_sandbox/uploads/"
MB = 1_000_000


class StorageLine:
    """ASGI middleware before the sandbox: PUTs to upload URLs pass through it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Bytes of the next upload larger than a megabyte let through, before it is held.
        self.hold_after: int | None = None
        self.holding = anyio.Event()
        self.release = anyio.Event()
        self.refuse_next = 0  # PUTs answered 503 (their bytes read first)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "PUT" or UPLOADS not in scope["path"]:
            await self.app(scope, receive, send)
            return
        if self.refuse_next:
            self.refuse_next -= 1
            while (await receive()).get("more_body"):
                pass
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [(b"access-control-allow-origin", b"*")],
                }
            )
            await send({"type": "http.response.body", "body": b"Service Unavailable"})
            return
        limit = None
        if int(dict(scope["headers"]).get(b"content-length", b"0")) > MB:
            limit, self.hold_after = self.hold_after, None
        received = 0

        async def slowed() -> Message:
            nonlocal received
            if limit is not None and received >= limit:
                self.holding.set()
                await self.release.wait()
            message = await receive()
            received += len(message.get("body", b""))
            return message

        await self.app(scope, slowed, send)


@dataclass
class RequestLog:
    """ASGI middleware before descript-mcp: every request, with the bytes of its body."""

    app: ASGIApp
    seen: list[tuple[str, str, int, bool]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        entry = [scope["method"], scope["path"], 0, False]
        self.seen.append(entry)  # type: ignore[arg-type]

        async def counted() -> Message:
            message = await receive()
            body = message.get("body", b"")
            entry[2] += len(body)
            # The magic numbers of the files picked: RIFF (WAV), ftyp (MP4).
            entry[3] = entry[3] or b"RIFF" in body or b"ftypisom" in body
            return message

        await self.app(scope, counted, send)


@dataclass
class Served:
    origin: str  # descript-mcp's
    storage_origin: str  # the sandbox's: its API and its signed URLs
    access_token: str  # issued by descript-mcp's OAuth flow
    sandbox: Sandbox
    line: StorageLine
    log: RequestLog


@pytest.fixture
async def served(sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Served]:
    line = StorageLine(sandbox.app)
    async with serve_app(line, date_header=False) as storage_origin:
        port = free_port()
        settings = Settings(
            api_url=storage_origin + API_PREFIX,
            history_path=tmp_path / "history.sqlite3",
            transport="http",
            port=port,
            auth="oauth",
            public_url=f"http://127.0.0.1:{port}",
            toolsets=("default", "uploads"),
            wait_seconds=5,
        )
        server = build_server(settings, poll_schedule=VIEW_PACED_POLL)
        log = RequestLog(http_app(server, settings))
        async with serve_app(log, port=port) as origin, httpx.AsyncClient(timeout=30) as http:
            app, person = App(Hosted(origin, server, settings), http), Person(sandbox.token)
            try:
                await app.register(client_name="Test host")
                tokens = await app.tokens_for(person)
            finally:
                await person.aclose()
            yield Served(origin, storage_origin, tokens["access_token"], sandbox, line, log)
            line.release.set()  # an upload still held ends with the test


@pytest.fixture
async def browser(host_bundle: bytes, served: Served) -> AsyncIterator[Browser]:
    """Closed before the servers stop: its pages hold their connections open."""
    async with chromium(PUBLIC_MEDIA_ON_LOOPBACK) as launched:
        yield launched


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "picked"
    folder.mkdir()
    return folder


def wav(folder: Path, name: str, seconds: float) -> Path:
    path = folder / name
    path.write_bytes(synthesize_wav(seconds))
    return path


def mp4(folder: Path, name: str, seconds: float, size: int) -> Path:
    """A real MP4 of `size` bytes: its header, then its media data, zeros written sparse."""
    path = folder / name
    with path.open("wb") as out:
        out.write(mp4_head(seconds, size=size))
        out.truncate(size)
    return path


async def open_view(
    browser: Browser, served: Served, bundle: bytes, **view: Any
) -> tuple[Page, FrameLocator, list[str]]:
    """The host page at descript-mcp's origin, having called upload_media as a model would;
    and every URL the page and the view requested."""
    arguments = {"project_name": "Brought from my computer"}
    query = {"tool": "upload_media", "args": json.dumps(arguments), "token": served.access_token}
    page, requested = await open_host(browser, served.origin, bundle, query | view)
    frame = page.frame_locator("#app")
    await frame.locator("#start").wait_for()
    return page, frame, requested


def row(view: FrameLocator, name: str) -> Any:
    return view.locator(f'li[data-name="{name}"] .detail')


async def test_a_person_uploads_a_wav_and_an_mp4_which_never_pass_through_the_server(
    browser: Browser, served: Served, host_bundle: bytes, media: Path
) -> None:
    talk = wav(media, "talk.wav", 4.0)
    clip = mp4(media, "clip.mp4", 42.0, 40 * MB)
    page, view, requested = await open_view(browser, served, host_bundle, theme="light")
    assert await view.locator("#project-name").input_value() == "Brought from my computer"
    await view.locator("#picker").set_input_files([talk, clip])
    assert await view.locator("#start").text_content() == "Upload 2 files"
    await screenshot(page.locator("#app"), "upload-view-picked-light")
    served.line.hold_after = MB  # the WAV goes through; the MP4 is held after a megabyte
    await view.locator("#start").click()
    await row(view, "talk.wav").filter(has_text="sent").wait_for()
    # Mid-way through the MP4: its bytes so far, of its size (TCP buffers what is held).
    await row(view, "clip.mp4").filter(has_text=re.compile(r"MB of 40\.0 MB")).wait_for()
    partial = await view.locator('li[data-name="clip.mp4"] [role=progressbar]').get_attribute(
        "aria-valuenow"
    )
    assert 0 < int(partial or 0) < 40 * MB
    await screenshot(page.locator("#app"), "upload-view-sending-light")
    served.line.release.set()

    await view.locator("#state", has_text="success").wait_for(timeout=30_000)
    lines = sorted(await view.locator("#media li").all_text_contents())
    assert lines == ["clip.mp4: success (42 s)", "talk.wav: success (4 s)"]
    await screenshot(page.locator("#app"), "upload-view-done-light")  # docs/images' picture

    # The view reached descript-mcp only through the host: to start, then to follow.
    calls = await page.evaluate("window.__host.appToolCalls")
    assert calls[0]["name"] == "start_upload"
    assert {c["name"] for c in calls[1:]} == {"get_job"}
    started = calls[0]["arguments"]
    assert [(f["name"], f["file_size"]) for f in started["files"]] == [
        ("talk.wav", talk.stat().st_size),
        ("clip.mp4", 40 * MB),
    ]
    told = await page.evaluate("window.__host.modelContext")
    assert "ended (success)" in told[-1]["content"][0]["text"]
    # No file's bytes passed through descript-mcp: every request it received was small, and
    # none carried a file.
    assert max(size for _, _, size, _ in served.log.seen) < 64 * 1024
    assert not any(carried for *_, carried in served.log.seen)
    # The bytes went from the browser to the signed URLs, with no token and no cookie.
    puts = [r for r in served.sandbox.requests if r.method == "PUT"]
    assert [r.status for r in puts] == [200, 200]
    secrets = (served.sandbox.token, served.access_token)
    for put in puts:
        headers = dict(put.headers)
        assert put.token is None
        assert "authorization" not in headers
        assert "cookie" not in headers
        assert "Chrome" in headers["user-agent"]  # the browser's, not the server's client
        assert headers["content-type"] == "application/octet-stream"
        assert not any(secret in value for secret in secrets for value in headers.values())
    # The view fetched nothing but the signed URLs (the host page fetched its MCP endpoint).
    elsewhere = [
        url
        for url in requested
        if not url.startswith((served.origin, f"{served.storage_origin}{UPLOADS}"))
        and url != "about:srcdoc"
    ]
    assert elsewhere == []
    await page.close()


async def _heap(session: CDPSession) -> float:
    metrics = (await session.send("Performance.getMetrics"))["metrics"]
    return float(next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize"))


async def test_a_300_mb_file_is_streamed_with_the_pages_memory_flat(
    browser: Browser, served: Served, host_bundle: bytes, media: Path
) -> None:
    big = mp4(media, "long.mp4", 600.0, 300 * MB)
    page, view, _ = await open_view(browser, served, host_bundle)
    frame = next(f for f in page.frames if f.url == "about:srcdoc")
    try:  # the view's own process, when the frame is isolated; else the page's
        session = await page.context.new_cdp_session(frame)
    except Exception:
        session = await page.context.new_cdp_session(page)
    await session.send("Performance.enable")
    await session.send("HeapProfiler.collectGarbage")
    before = await _heap(session)
    served.line.hold_after = 150 * MB
    await view.locator("#picker").set_input_files(big)
    await view.locator("#start").click()
    with anyio.fail_after(60):
        await served.line.holding.wait()
    await row(view, "long.mp4").filter(has_text=re.compile(r"MB of 300\.0 MB")).wait_for()
    during = await _heap(session)
    served.line.release.set()
    await view.locator("#state", has_text="success").wait_for(timeout=60_000)
    after = await _heap(session)
    print(
        f"JS heap: {before / MB:.1f} MB before, {during / MB:.1f} MB mid-upload, "
        f"{after / MB:.1f} MB after a 300 MB upload"
    )
    assert during - before < 16 * MB  # a file read whole would add 300 MB
    assert after - before < 16 * MB
    assert await view.locator("#media li").all_text_contents() == ["long.mp4: success (600 s)"]
    await page.close()


async def test_cancelling_mid_upload_cancels_the_import_and_charges_nothing(
    browser: Browser, served: Served, host_bundle: bytes, media: Path
) -> None:
    clip = mp4(media, "take.mp4", 30.0, 40 * MB)
    drive = served.sandbox.world.drives[served.sandbox.config.drives[0].id]
    minutes = drive.media_minutes
    page, view, _ = await open_view(browser, served, host_bundle)
    served.line.hold_after = 1 * MB
    await view.locator("#picker").set_input_files(clip)
    await view.locator("#start").click()
    await row(view, "take.mp4").filter(has_text=re.compile(r"MB of 40\.0 MB")).wait_for()
    await view.locator("#cancel").click()
    await view.locator("#state", has_text="cancelled").wait_for()
    message = await view.locator("#message").text_content()
    (job_id,) = list(served.sandbox.world.jobs)
    assert message == (
        f"Import {job_id} was cancelled: nothing more is sent, and media already imported stay "
        "in the project."
    )
    assert served.sandbox.world.jobs[job_id].state == "cancelled"
    assert len(served.sandbox.api_requests("POST", "/jobs/import")) == 1
    assert [r for r in served.sandbox.requests if r.method == "PUT" and r.status == 200] == []
    assert drive.media_minutes == minutes
    calls = [c["name"] for c in await page.evaluate("window.__host.appToolCalls")]
    assert calls == ["start_upload", "cancel_job"]
    assert await view.locator("#again").is_visible()
    await screenshot(page.locator("#app"), "upload-view-cancelled-light")
    await page.close()


async def test_an_expired_link_fails_the_file_and_the_view_says_so(
    browser: Browser, served: Served, host_bundle: bytes, media: Path
) -> None:
    served.sandbox.config.upload_url_ttl = 0.0  # signed URLs carry whole seconds: expired
    talk = wav(media, "late.wav", 2.0)
    page, view, _ = await open_view(browser, served, host_bundle, theme="dark")
    await view.locator("#picker").set_input_files(talk)
    await view.locator("#start").click()
    await view.locator("#state", has_text="error").wait_for(timeout=30_000)
    assert await view.locator("#message").text_content() == (
        "No media could be imported. late.wav: The upload URL expired before the file was uploaded"
    )
    (put,) = [r for r in served.sandbox.requests if r.method == "PUT"]
    assert put.status == 400  # ExpiredToken
    assert await view.locator("button", has_text="Retry").count() == 0
    await screenshot(page.locator("#app"), "upload-view-expired-dark")
    await page.close()


async def test_a_failed_put_is_retried_in_a_narrow_dark_frame(
    browser: Browser, served: Served, host_bundle: bytes, media: Path
) -> None:
    talk = wav(media, "a recording with a long name, from the studio.wav", 3.0)
    page, view, _ = await open_view(browser, served, host_bundle, theme="dark", width="300")
    await view.locator("#picker").set_input_files(talk)
    served.line.refuse_next = 1
    await view.locator("#start").click()
    retry = view.locator("button", has_text="Retry")
    await retry.wait_for()
    assert await row(view, talk.name).text_content() == "refused (503)"
    assert "did not arrive. Retry, or cancel the import" in (
        await view.locator("#message").text_content() or ""
    )
    overflow = await view.locator("body").evaluate(
        "body => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    await screenshot(page.locator("#app"), "upload-view-retry-dark-narrow")
    await retry.click()
    await view.locator("#state", has_text="success").wait_for(timeout=30_000)
    assert await view.locator("#media li").all_text_contents() == [f"{talk.name}: success (3 s)"]
    assert [r.status for r in served.sandbox.requests if r.method == "PUT"] == [200]
    assert len(served.sandbox.api_requests("POST", "/jobs/import")) == 1
    await screenshot(page.locator("#app"), "upload-view-done-dark-narrow")
    await page.close()
    assert (ARTIFACTS / "upload-view-retry-dark-narrow.png").stat().st_size > 5_000


async def test_the_view_is_bound_to_upload_media_and_may_reach_the_upload_hosts_only() -> None:
    from mcp import Client
    from mcp.client.extension import advertise

    from descript_mcp.server.upload_view import UPLOAD_VIEW_URI

    apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
    for api_url, origins in (
        ("https://descriptapi.com/v1", ["https://storage.googleapis.com"]),
        ("http://127.0.0.1:8765/v1", ["https://storage.googleapis.com", "http://127.0.0.1:8765"]),
    ):
        settings = Settings(api_url=api_url, toolsets=("default", "uploads"))
        async with Client(build_server(settings), extensions=[apps]) as mcp:
            tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
            (view,) = (await mcp.read_resource(UPLOAD_VIEW_URI)).contents
        assert tools["upload_media"].meta == {"ui": {"resourceUri": UPLOAD_VIEW_URI}}
        assert tools["start_upload"].meta == {"ui": {"visibility": ["app"]}}
        assert view.mime_type == "text/html;profile=mcp-app"
        assert view.meta == {"ui": {"csp": {"connectDomains": origins}}}
    html = view.text  # type: ignore[union-attr]
    # It sends files with XMLHttpRequest to the upload URLs the server gives, and loads nothing.
    for fetching in ("fetch(", "WebSocket", "import(", "src=", 'href="http', "sendBeacon"):
        assert fetching not in html
    assert html.count("new XMLHttpRequest()") == 1
    assert 'xhr.open("PUT", item.link.upload_url)' in html
    assert "innerHTML" not in html  # names are set as text
    # The file is handed to the browser to stream, never read into the page.
    for reading in ("FileReader", "arrayBuffer", "file.slice(", "file.text(", "file.stream("):
        assert reading not in html


def test_a_server_without_the_uploads_toolset_never_loads_the_view() -> None:
    probe = (
        "import sys; from descript_mcp.server import build_server;"
        " from descript_mcp.settings import Settings; build_server(Settings());"
        " print('descript_mcp.server.upload_view' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False"
