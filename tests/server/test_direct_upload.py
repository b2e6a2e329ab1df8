"""Direct upload, for clients without views: import_media with a file's size (and type) instead
of a URL or a path answers with the job and each file's signed upload URL, how long it is valid
and the command that sends it; the caller sends the bytes, and the job is followed as usual.
Over streamable HTTP as an agent does it, and in memory as over stdio; the same call repeated
is answered with the same job and links; and the upload view's own tool."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from descript_mcp.client.expiry import upload_url_expiry
from descript_mcp.sandbox import Sandbox, serve, serve_app
from descript_mcp.sandbox.media import synthesize_mp4, synthesize_wav
from descript_mcp.server import build_server
from descript_mcp.server.http.run import http_app
from descript_mcp.settings import Settings
from tests.conftest import FAST_POLL
from tests.server.conftest import error_text, read_json, structured

pytestmark = pytest.mark.anyio

OCTETS = {"Content-Type": "application/octet-stream"}


@asynccontextmanager
async def over_http(
    sandbox: Sandbox, tmp_path: Path, **changes: Any
) -> AsyncIterator[tuple[Client, str]]:
    """descript-mcp over streamable HTTP with a bearer token, on the sandbox served on a
    loopback port (its upload URLs are real ones); an SDK client; the sandbox's API URL."""
    async with serve(sandbox) as api_url:
        settings = Settings(
            api_url=api_url,
            transport="http",
            history_path=tmp_path / "history.sqlite3",
            wait_seconds=10,
            **changes,
        )
        server = build_server(settings, poll_schedule=FAST_POLL)
        headers = {"Authorization": f"Bearer {sandbox.token}"}
        async with (
            serve_app(http_app(server, settings)) as origin,
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(f"{origin}/mcp", http_client=http)) as mcp,
        ):
            yield mcp, api_url


async def test_an_agent_sends_the_bytes_to_the_upload_urls_and_the_job_ends_with_the_media(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    talk, clip = tmp_path / "talk.wav", tmp_path / "clip.mp4"
    talk.write_bytes(synthesize_wav(3.0))
    clip.write_bytes(synthesize_mp4(42.0, size=300_000))
    async with over_http(sandbox, tmp_path) as (mcp, _):
        started = structured(
            await mcp.call_tool(
                "import_media",
                {
                    "project_name": "Brought along",
                    "add_media": {
                        "talk.wav": {"file_size": talk.stat().st_size, "content_type": "audio/wav"},
                        "clip.mp4": {"file_size": clip.stat().st_size},
                    },
                },
            )
        )
        assert started["finished"] is False
        assert started["wait_applied"] == 0
        links = {link["name"]: link for link in started["uploads"]}
        assert set(links) == {"talk.wav", "clip.mp4"}
        for link in links.values():
            valid = datetime.fromisoformat(link["expires_at"]) - datetime.now(UTC)
            assert timedelta(hours=2, minutes=59) < valid <= timedelta(hours=3)
            assert link["command"].startswith("curl --fail-with-body -T ")
            assert "Content-Type: application/octet-stream" in link["command"]
            assert shlex.split(link["command"])[-1] == link["upload_url"]
        summary = started["summary"]
        assert "waits for the bytes of talk.wav, clip.mp4" in summary
        assert "fails when its link expires and costs nothing; cancel_job stops" in summary
        async with httpx.AsyncClient(timeout=30) as storage:  # no token, as an agent's shell
            sent = await storage.put(
                links["talk.wav"]["upload_url"], content=talk.read_bytes(), headers=OCTETS
            )
            assert sent.status_code == 200
        await _run(links["clip.mp4"]["command"], clip, tmp_path)
        done = structured(
            await mcp.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 30})
        )
    assert done["outcome"] == "success", done
    durations = {m["name"]: m["duration_seconds"] for m in done["media"]}
    assert durations == {"talk.wav": pytest.approx(3.0), "clip.mp4": pytest.approx(42.0)}
    (put_talk, put_clip) = [r for r in sandbox.requests if r.method == "PUT"]
    for put in (put_talk, put_clip):
        assert put.token is None
        assert not any(name == "authorization" for name, _ in put.headers)


async def _run(command: str, file: Path, folder: Path) -> None:
    """The answer's command, as a person pastes it where the file is: with curl when the
    machine has it, else its request made by hand from its words."""
    if shutil.which("curl"):
        run = await anyio.run_process(["bash", "-c", command], cwd=folder, check=False)
        assert run.returncode == 0, run.stderr.decode()
        return
    words = shlex.split(command)
    assert words[words.index("-T") + 1] == file.name
    async with httpx.AsyncClient(timeout=30) as storage:
        sent = await storage.put(words[-1], content=file.read_bytes(), headers=OCTETS)
    assert sent.status_code == 200


async def test_the_same_call_again_gets_the_same_job_and_links_not_a_second_import(
    mcp: Client, sandbox: Sandbox
) -> None:
    arguments = {"project_name": "Once", "add_media": {"a.wav": {"file_size": 1000}}}
    first = structured(await mcp.call_tool("import_media", arguments))
    again = structured(await mcp.call_tool("import_media", arguments))
    assert again["job_id"] == first["job_id"]
    assert again["uploads"] == first["uploads"]
    assert "did not submit it again" in again["summary"]
    assert len(sandbox.api_requests("POST", "/jobs/import/project_media")) == 1
    anew = structured(await mcp.call_tool("import_media", {**arguments, "force": True}))
    assert anew["job_id"] != first["job_id"]
    for job in (first, anew):
        await mcp.call_tool("cancel_job", {"job_id": job["job_id"]})


async def test_in_memory_as_over_stdio_the_bytes_go_to_the_link_and_the_job_ends(
    mcp: Client, sandbox: Sandbox
) -> None:
    audio = synthesize_wav(2.0)
    started = structured(
        await mcp.call_tool(
            "import_media",
            {"project_name": "Stdio", "add_media": {"v.wav": {"file_size": len(audio)}}},
        )
    )
    (link,) = started["uploads"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app)) as storage:
        assert (await storage.put(link["upload_url"], content=audio, headers=OCTETS)).is_success
    done = structured(
        await mcp.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 30})
    )
    assert done["outcome"] == "success"
    assert done["media"] == [{"name": "v.wav", "status": "success", "duration_seconds": 2.0}]


async def test_bytes_that_never_arrive_fail_the_file_when_the_link_expires(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.config.upload_url_ttl = 0.0  # signed URLs carry whole seconds: expired at once
    started = structured(
        await mcp.call_tool(
            "import_media", {"project_name": "Never", "add_media": {"lost.wav": {"file_size": 9}}}
        )
    )
    done = structured(
        await mcp.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 30})
    )
    assert done["outcome"] == "error"
    assert "expired before the file was uploaded" in done["error_message"]
    assert "uploads" not in done


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"file_size": 10, "url": "https://example.com/a.wav"}, "give exactly one of url"),
        ({"content_type": "audio/wav"}, "content_type goes with file_size"),
        ({"file_size": 0}, "add_media.a.wav.file_size"),
    ],
)
async def test_a_direct_upload_item_is_checked(
    mcp: Client, source: dict[str, Any], expected: str
) -> None:
    text = error_text(await mcp.call_tool("import_media", {"add_media": {"a.wav": source}}))
    assert expected in text


async def test_a_name_without_an_extension_is_refused_before_anything_is_sent(
    mcp: Client, sandbox: Sandbox
) -> None:
    text = error_text(
        await mcp.call_tool("import_media", {"add_media": {"interview": {"file_size": 10}}})
    )
    assert "Give the media name 'interview' the file's extension" in text
    assert sandbox.api_requests("POST") == []


def test_an_upload_links_expiry_is_read_from_it_when_it_says() -> None:
    issued = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    google = "https://storage.googleapis.com/b/o?X-Goog-Date=20260501T115900Z&X-Goog-Expires=600"
    amazon = "https://s3.amazonaws.com/b/o?X-Amz-Date=20260501T115900Z&X-Amz-Expires=60"
    version_2 = "https://storage.googleapis.com/b/o?Expires=1777640400&Signature=x"
    assert upload_url_expiry(google, issued) == datetime(2026, 5, 1, 12, 9, tzinfo=UTC)
    assert upload_url_expiry(amazon, issued) == datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert upload_url_expiry(version_2, issued) == datetime.fromtimestamp(1777640400, UTC)
    silent = "https://storage.googleapis.com/b/o?upload_id=1"
    assert upload_url_expiry(silent, issued) == issued + timedelta(hours=3)


async def test_the_upload_views_tool_starts_one_import_of_the_picked_files(
    make_server, sandbox: Sandbox
) -> None:
    picked = [
        {"name": "a.wav", "file_size": 100, "content_type": "audio/wav", "last_modified": 1},
        {"name": "b.mp4", "file_size": 200, "content_type": "", "last_modified": 2},
    ]
    arguments = {"files": picked, "project_name": "Picked", "composition_name": "Cut"}
    async with Client(make_server(toolsets=("default", "uploads"))) as mcp:
        started = structured(await mcp.call_tool("start_upload", arguments))
        again = structured(await mcp.call_tool("start_upload", arguments))
        edited = [{**picked[0], "last_modified": 3}, picked[1]]
        another = structured(await mcp.call_tool("start_upload", {**arguments, "files": edited}))
        refused = error_text(
            await mcp.call_tool("start_upload", {"files": [{"name": "notes.txt", "file_size": 5}]})
        )
        twice = error_text(await mcp.call_tool("start_upload", {"files": [picked[0]] * 2}))
        recorded = await read_json(mcp, f"descript://jobs/{started['job_id']}")
        for job in (started, another):
            await mcp.call_tool("cancel_job", {"job_id": job["job_id"]})
    assert [link["name"] for link in started["uploads"]] == ["a.wav", "b.mp4"]
    assert (again["job_id"], again["uploads"]) == (started["job_id"], started["uploads"])
    assert another["job_id"] != started["job_id"]  # a file of the same name, changed since
    assert len(sandbox.api_requests("POST", "/jobs/import/project_media")) == 2
    body = recorded["request"]
    assert body["add_media"] == {
        "a.wav": {"content_type": "audio/wav", "file_size": 100},
        "b.mp4": {"content_type": "video/mp4", "file_size": 200},
    }
    assert body["add_compositions"] == [
        {"name": "Cut", "clips": [{"media": "a.wav"}, {"media": "b.mp4"}]}
    ]
    assert "notes.txt is not audio, video or an image" in refused
    assert "Each file needs a name of its own" in twice
