"""The sandbox's signed upload URLs behave as Descript's do: signed for one content type and one
size, refused once expired, reachable from a web page (CORS), logged without their signature;
and the import waits for the bytes, then reads the file."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from descript_mcp import DescriptClient
from descript_mcp.client.models import ImportJobCreated, ImportMediaRequest, UploadMedia
from descript_mcp.client.waiter import ProgressUpdate, wait_for_job
from descript_mcp.sandbox import Sandbox, serve
from descript_mcp.sandbox.media import synthesize_mp4, synthesize_wav
from tests.conftest import FAST_POLL, QUICK_RETRIES, wait

pytestmark = pytest.mark.anyio

OCTETS = {"Content-Type": "application/octet-stream"}
# A web page in a sandboxed frame has an opaque origin: the browser sends "null".
PAGE = {"Origin": "null"}


@pytest.fixture
async def served(sandbox: Sandbox) -> AsyncIterator[str]:
    """The sandbox on a loopback port: its upload URLs are real ones."""
    async with serve(sandbox) as api_url:
        yield api_url


@pytest.fixture
async def client(sandbox: Sandbox, served: str) -> AsyncIterator[DescriptClient]:
    async with DescriptClient(sandbox.token, base_url=served, retry=QUICK_RETRIES) as ready:
        yield ready


@pytest.fixture
async def storage() -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP without a token: as a browser or curl reaches a signed URL."""
    async with httpx.AsyncClient(timeout=30) as http:
        yield http


async def _import(client: DescriptClient, **files: int) -> ImportJobCreated:
    return await client.import_project_media(
        ImportMediaRequest(
            project_name="Uploads",
            add_media={
                name.replace("_", "."): UploadMedia(content_type="audio/wav", file_size=size)
                for name, size in files.items()
            },
        )
    )


async def test_an_upload_url_is_signed_for_octet_stream_only(
    client: DescriptClient, storage: httpx.AsyncClient
) -> None:
    audio = synthesize_wav(3.0)
    created = await _import(client, a_wav=len(audio))
    url = created.upload_urls["a.wav"].upload_url
    for wrong in ({"Content-Type": "audio/wav"}, {}):
        refused = await storage.put(url, content=audio, headers=wrong)
        assert refused.status_code == 403
        assert b"SignatureDoesNotMatch" in refused.content
        assert b"application/octet-stream" in refused.content
    job = await client.get_job(created.job_id)
    assert job.job_state != "stopped"  # a refused PUT leaves the import waiting
    assert (await storage.put(url, content=audio, headers=OCTETS)).status_code == 200
    done = await wait(client, created.job_id)
    assert done.result is not None
    assert done.result.media_status["a.wav"].duration_seconds == pytest.approx(3.0)


async def test_the_import_waits_for_the_bytes(
    client: DescriptClient, storage: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    audio = synthesize_wav(2.0)
    created = await _import(client, first_wav=len(audio), second_wav=len(audio))
    waiting = anyio.Event()

    async def heard(update: ProgressUpdate) -> None:
        if update.label == "Waiting for upload: first.wav":
            waiting.set()

    async with anyio.create_task_group() as watching:
        follow = functools.partial(wait_for_job, on_progress=heard, schedule=FAST_POLL)
        watching.start_soon(follow, client, created.job_id)
        with anyio.fail_after(10):
            await waiting.wait()
        watching.cancel_scope.cancel()
    for name in ("first.wav", "second.wav"):
        url = created.upload_urls[name].upload_url
        assert (await storage.put(url, content=audio, headers=OCTETS)).status_code == 200
    done = await wait(client, created.job_id)
    assert done.result is not None
    assert done.result.status == "success"


async def test_a_web_page_may_put_to_an_upload_url(
    client: DescriptClient, storage: httpx.AsyncClient
) -> None:
    """The preflight a browser sends before a PUT with a Content-Type, and the answers it may
    read, refusals included."""
    created = await _import(client, a_wav=100)
    url = created.upload_urls["a.wav"].upload_url
    preflight = await storage.options(
        url,
        headers={
            **PAGE,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-methods"] == "PUT"
    assert preflight.headers["access-control-allow-headers"].lower() == "content-type"
    assert preflight.headers["access-control-allow-private-network"] == "true"
    short = await storage.put(url, content=b"x" * 99, headers={**PAGE, **OCTETS})
    assert short.status_code == 400
    assert short.headers["access-control-allow-origin"] == "*"
    sent = await storage.put(url, content=b"x" * 100, headers={**PAGE, **OCTETS})
    assert sent.status_code == 200
    assert sent.headers["access-control-allow-origin"] == "*"
    await client.cancel_job(created.job_id)


async def test_uploads_are_in_the_request_log_without_their_signature(
    client: DescriptClient, storage: httpx.AsyncClient, sandbox: Sandbox
) -> None:
    created = await _import(client, a_wav=100)
    target = created.upload_urls["a.wav"]
    await storage.put(target.upload_url, content=b"x" * 100, headers={**OCTETS, "X-Test": "1"})
    (logged,) = [r for r in sandbox.requests if r.method == "PUT"]
    assert logged.path == f"/_sandbox/uploads/{target.asset_id}"
    assert logged.status == 200
    assert logged.token is None
    assert ("x-test", "1") in logged.headers
    assert "signature" not in repr(logged)
    await client.cancel_job(created.job_id)


async def test_an_mp4_is_read_for_its_duration(
    client: DescriptClient, storage: httpx.AsyncClient
) -> None:
    video = synthesize_mp4(95.5, size=200_000)
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Video",
            add_media={"talk.mp4": UploadMedia(content_type="video/mp4", file_size=len(video))},
        )
    )
    url = created.upload_urls["talk.mp4"].upload_url
    assert (await storage.put(url, content=video, headers=OCTETS)).status_code == 200
    done = await wait(client, created.job_id)
    assert done.result is not None
    assert done.result.media_status["talk.mp4"].duration_seconds == pytest.approx(95.5)
