"""The sandbox keeps Descript's contract: validation wording, auth, media fetching rules,
signed URLs, callbacks and balances."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from descript_mcp import DescriptClient
from descript_mcp.client.models import (
    AgentEditRequest,
    ImportMediaRequest,
    PublishRequest,
    UploadMedia,
    UrlMedia,
)
from descript_mcp.sandbox import Sandbox, serve_app
from tests.conftest import ASGI_BASE, wait

pytestmark = pytest.mark.anyio


@pytest.fixture
async def raw(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the sandbox, for what the client's own checks would never send."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=sandbox.app),
        base_url=ASGI_BASE,
        headers={"Authorization": f"Bearer {sandbox.token}"},
    ) as http:
        yield http


@pytest.mark.parametrize(
    ("path", "body", "message", "where"),
    [
        (
            "/v1/jobs/import/project_media",
            {"project_name": "x", "add_compositions": [{"clips": [], "fps": 30}]},
            '"add_compositions[0].fps" is not allowed',
            ["add_compositions", 0, "fps"],
        ),
        (
            "/v1/jobs/import/project_media",
            {"drive_id": "d"},
            '"drive_id" is not allowed',
            ["drive_id"],
        ),
        (
            "/v1/jobs/import/project_media",
            {"add_media": {"a.wav": {"name": "a"}}},
            '"add_media.a.wav" must match exactly one of [URL Import, Direct Upload, '
            "Multitrack Sequence]",
            ["add_media", "a.wav"],
        ),
        (
            "/v1/jobs/import/project_media",
            {"add_media": {"a.wav": {"url": "not a url"}}},
            '"add_media.a.wav.url" must be a valid uri',
            ["add_media", "a.wav", "url"],
        ),
        ("/v1/jobs/agent", {"project_name": "x"}, '"prompt" is required', ["prompt"]),
        (
            "/v1/jobs/publish",
            {"project_id": "123"},
            '"project_id" must be a valid GUID',
            ["project_id"],
        ),
        (
            "/v1/jobs/publish",
            {"project_id": "9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb", "resolution": "8K"},
            '"resolution" must be one of [480p, 720p, 1080p, 1440p, 4K]',
            ["resolution"],
        ),
    ],
)
async def test_invalid_bodies_get_descripts_400_wording(
    raw: httpx.AsyncClient, path: str, body: dict[str, Any], message: str, where: list[Any]
) -> None:
    response = await raw.post(path, json=body)
    assert response.status_code == 400
    answer = response.json()
    assert (answer["error"], answer["message"]) == ("invalid_input", message)
    assert answer["details"][0]["path"] == where


async def test_malformed_json_and_missing_token(raw: httpx.AsyncClient) -> None:
    malformed = await raw.post("/v1/jobs/agent", content=b"{nope")
    assert malformed.json() == {"error": "invalid_input", "message": "Malformed request body"}
    anonymous = await raw.get("/v1/status", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "unauthorized"
    unknown = await raw.get("/v1/nowhere")
    assert (unknown.status_code, unknown.json()["error"]) == (404, "not_found")


async def test_sample_media_honours_range_requests(raw: httpx.AsyncClient) -> None:
    whole = await raw.get("/_sandbox/media/sample.wav")
    part = await raw.get("/_sandbox/media/sample.wav", headers={"Range": "bytes=0-99"})
    assert (whole.status_code, part.status_code) == (200, 206)
    assert part.content == whole.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(whole.content)}"
    beyond = await raw.get("/_sandbox/media/sample.wav", headers={"Range": "bytes=99999999-"})
    assert beyond.status_code == 416
    no_ranges = await raw.get("/_sandbox/media/sample.wav?ranges=0", headers={"Range": "bytes=0-9"})
    assert no_ranges.status_code == 200


async def test_media_items_fail_the_way_descripts_do(
    client: DescriptClient, media_url: str
) -> None:
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Mixed",
            add_media={
                "ok.wav": UrlMedia(url=media_url),
                "no-ranges.wav": UrlMedia(url=media_url + "?ranges=0"),
                "remote.wav": UrlMedia(url="http://media.example.com/a.wav"),
                "noextension": UrlMedia(url=media_url.removesuffix(".wav")),
            },
        )
    )
    job = await wait(client, created.job_id)
    assert job.result is not None
    assert job.result.status == "partial"
    status = job.result.media_status
    assert status["ok.wav"].status == "success"
    assert status["no-ranges.wav"].error_message == (
        "Media URL is not accessible or does not support Range requests"
    )
    assert "loopback URLs only" in (status["remote.wav"].error_message or "")
    assert status["noextension"].error_message == "Failed to read media metadata"


async def test_an_import_whose_every_item_failed_is_an_error(
    client: DescriptClient, media_url: str
) -> None:
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Broken", add_media={"a.wav": UrlMedia(url=media_url + "?ranges=0")}
        )
    )
    job = await wait(client, created.job_id)
    assert job.result is not None
    assert (job.result.status, job.result.error_code) == ("error", "import_failed")


async def test_signed_upload_urls_check_signature_and_size(
    client: DescriptClient, raw: httpx.AsyncClient
) -> None:
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Up",
            add_media={"a.wav": UploadMedia(content_type="audio/wav", file_size=100)},
        )
    )
    url = created.upload_urls["a.wav"].upload_url
    octets = {"Content-Type": "application/octet-stream"}
    assert (await raw.put(url, content=b"x" * 99, headers=octets)).status_code == 400
    garbled = await raw.put(url, content=b"x" * 100, headers={**octets, "Content-Length": "1e2"})
    assert garbled.status_code == 400
    forged = url.replace("signature=", "signature=0")
    assert (await raw.put(forged, content=b"x" * 100, headers=octets)).status_code == 403
    await client.cancel_job(created.job_id)


async def test_an_expired_upload_url_fails_its_media_item(
    client: DescriptClient, sandbox: Sandbox, raw: httpx.AsyncClient
) -> None:
    sandbox.config.upload_url_ttl = 0.0  # signed URLs carry whole seconds: expired at once
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Late",
            add_media={"a.wav": UploadMedia(content_type="audio/wav", file_size=100)},
        )
    )
    expired = await raw.put(created.upload_urls["a.wav"].upload_url, content=b"x" * 100)
    assert expired.status_code == 400
    assert b"ExpiredToken" in expired.content
    job = await wait(client, created.job_id)
    assert job.result is not None
    assert "expired before the file was uploaded" in (job.result.error_message or "")


async def test_download_urls_expire(
    client: DescriptClient, sandbox: Sandbox, imported_project, raw: httpx.AsyncClient
) -> None:
    created = await imported_project()
    sandbox.config.download_url_ttl = 0.0
    job = await wait(
        client, (await client.publish(PublishRequest(project_id=created.project_id))).job_id
    )
    assert job.result is not None
    assert job.result.download_url
    expired = await raw.get(job.result.download_url)
    assert expired.status_code == 400
    assert b"ExpiredToken" in expired.content


async def test_callbacks_are_posted_when_a_job_stops(
    client: DescriptClient, media_url: str
) -> None:
    received: list[dict[str, Any]] = []
    arrived = anyio.Event()

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        arrived.set()
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with serve_app(receiver) as origin:
        created = await client.import_project_media(
            ImportMediaRequest(
                project_name="Hooked",
                add_media={"a.wav": UrlMedia(url=media_url)},
                callback_url=f"{origin}/hook",
            )
        )
        with anyio.fail_after(10):
            await arrived.wait()
    (body,) = received
    assert body["job_id"] == created.job_id
    assert body["job_state"] == "stopped"
    assert body["result"]["status"] == "success"


async def test_jobs_spend_media_minutes_and_ai_credits(
    client: DescriptClient, sandbox: Sandbox, imported_project
) -> None:
    drive = sandbox.world.drives[sandbox.config.drives[0].id]
    minutes, credits = drive.media_minutes, drive.ai_credits
    created = await imported_project()
    assert drive.media_minutes == pytest.approx(minutes - 12 / 60)
    job = await wait(
        client,
        (
            await client.agent_edit(
                AgentEditRequest(project_id=created.project_id, prompt="Add captions")
            )
        ).job_id,
    )
    assert job.result is not None
    assert drive.ai_credits == pytest.approx(credits - (job.result.ai_credits_used or 0))


async def test_a_job_moves_from_queued_through_running_to_stopped(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    sandbox.config.timings.queued = 0.2
    sandbox.config.timings.import_item = 0.4
    created = await client.import_project_media(
        ImportMediaRequest(project_name="Life", add_media={"a.wav": UrlMedia(url=media_url)})
    )
    states = []
    with anyio.fail_after(10):
        while not states or states[-1] != "stopped":
            states.append((await client.get_job(created.job_id)).job_state)
            await anyio.sleep(0.05)
    assert states[0] == "queued"
    assert "running" in states
    assert states.index("running") < states.index("stopped")
