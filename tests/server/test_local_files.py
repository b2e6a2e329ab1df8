"""Local files through the MCP tools: uploads, share links, saved downloads, confinement."""

from __future__ import annotations

import io
import os
import threading
import wave
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import ListRootsResult, Root

from descript_mcp.sandbox import Sandbox
from descript_mcp.sandbox.media import synthesize_wav
from tests.server.conftest import SAMPLE, error_text, import_sample, read_json, structured
from tests.waiting import eventually

pytestmark = pytest.mark.anyio


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "talk.wav").write_bytes(synthesize_wav(4.0))
    return folder


@pytest.fixture
async def mcp(make_server, mode: str, media: Path) -> Any:
    async with Client(make_server(roots=(media,)), mode=mode) as client:
        yield client


async def test_a_local_file_is_uploaded_with_byte_progress(mcp: Client, media: Path) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    summary = structured(
        await mcp.call_tool(
            "import_media",
            {
                "project_name": "From disk",
                "add_media": {"talk.wav": {"path": str(media / "talk.wav")}},
            },
            progress_callback=on_progress,
        )
    )
    assert summary["outcome"] == "success"
    assert summary["media"][0]["duration_seconds"] == pytest.approx(4.0)
    size = (media / "talk.wav").stat().st_size
    uploads = [(p, t, m) for p, t, m in seen if m and m.startswith("Uploading talk.wav")]
    assert uploads[-1][0] == size  # bytes sent, of the total bytes
    assert uploads[-1][1] == size
    assert "of 125.0 KiB" in (uploads[-1][2] or "")
    values = [p for p, _, _ in seen]
    assert values == sorted(set(values))
    # The upload's end is told once the job's phase begins; the job's end only by the result.
    assert seen.index(uploads[-1]) < len(seen) - 1
    assert not any(m and m.startswith("finished") for _, _, m in seen)
    assert values[-1] < 2 * size


async def test_urls_paths_share_links_and_sequences_in_one_import(mcp: Client, media: Path) -> None:
    summary = structured(
        await mcp.call_tool(
            "import_media",
            {
                "project_name": "Mixed",
                "add_media": {
                    "web.wav": {"url": SAMPLE},
                    "disk.wav": {"path": str(media / "talk.wav")},
                    "shared.mp4": {
                        "url": "https://www.dropbox.com/scl/fi/abc/shared.mp4?rlkey=k&dl=0"
                    },
                    "Sequences/Both": {
                        "tracks": [{"media": "web.wav"}, {"media": "disk.wav", "offset": 1}]
                    },
                },
            },
        )
    )
    outcomes = {m["name"]: m["status"] for m in summary["media"]}
    assert outcomes == {
        "web.wav": "success",
        "disk.wav": "success",
        "shared.mp4": "failed",
        "Sequences/Both": "success",
    }  # the sandbox fetches loopback URLs only
    record = await read_json(mcp, f"descript://jobs/{summary['job_id']}")
    asked = record["request"]["add_media"]
    assert asked["shared.mp4"]["url"] == (
        "https://www.dropbox.com/scl/fi/abc/shared.mp4?rlkey=REDACTED&dl=1"
    )
    assert asked["disk.wav"] == {
        "content_type": "audio/wav",
        "file_size": (media / "talk.wav").stat().st_size,
    }


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ({"path": "/etc/passwd"}, "outside the folders this server may use"),
        ({"path": "relative.wav"}, "not an absolute path"),
        ({"url": "https://drive.google.com/drive/folders/xyz"}, "Google Drive folder"),
    ],
)
async def test_refused_sources_start_no_job(
    mcp: Client, sandbox: Sandbox, source: dict[str, str], says: str
) -> None:
    text = error_text(await mcp.call_tool("import_media", {"add_media": {"a.wav": source}}))
    assert says in text
    assert sandbox.world.jobs == {}


async def test_without_roots_local_files_are_off_and_say_how_to_allow(
    make_server, sandbox: Sandbox, media: Path
) -> None:
    async with Client(make_server()) as mcp:
        text = error_text(
            await mcp.call_tool(
                "import_media", {"add_media": {"talk.wav": {"path": str(media / "talk.wav")}}}
            )
        )
    assert "DESCRIPT_MCP_ROOTS" in text
    assert sandbox.world.jobs == {}


async def test_a_media_name_needs_an_extension(mcp: Client, media: Path) -> None:
    text = error_text(
        await mcp.call_tool(
            "import_media", {"add_media": {"talk": {"path": str(media / "talk.wav")}}}
        )
    )
    assert "file extension (like talk.mp4)" in text


async def test_an_expired_upload_url_cancels_the_import(
    mcp: Client, sandbox: Sandbox, media: Path
) -> None:
    sandbox.config.upload_url_ttl = 0.0
    summary = structured(
        await mcp.call_tool(
            "import_media",
            {"project_name": "Late", "add_media": {"talk.wav": {"path": str(media / "talk.wav")}}},
        )
    )
    assert summary["outcome"] == "cancelled"
    assert summary["media"][0]["status"] == "failed"
    assert "upload failed" in summary["media"][0]["error"]
    assert "was cancelled so it does not wait for the file forever" in summary["summary"]
    (job,) = sandbox.world.jobs.values()
    assert job.state == "cancelled"
    history = await read_json(mcp, f"descript://jobs/{summary['job_id']}")
    assert history["state"] == "cancelled"


async def test_a_file_that_cannot_be_read_mid_upload_cancels_the_import(
    mcp: Client, media: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def disk_fails(*_args: Any) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("descript_mcp.server.tools.local_files.upload_file", disk_fails)
    summary = structured(
        await mcp.call_tool(
            "import_media",
            {
                "project_name": "Bad disk",
                "add_media": {"talk.wav": {"path": str(media / "talk.wav")}},
            },
        )
    )
    assert summary["outcome"] == "cancelled"
    assert "talk.wav: upload failed: [Errno 5] Input/output error" in summary["summary"]
    assert [job.state for job in sandbox.world.jobs.values()] == ["cancelled"]


async def test_an_unexpected_failure_mid_upload_still_cancels_the_import(
    mcp: Client, media: Path, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def breaks(*_args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("descript_mcp.server.tools.local_files.upload_file", breaks)
    result = await mcp.call_tool(
        "import_media",
        {"project_name": "Bug", "add_media": {"talk.wav": {"path": str(media / "talk.wav")}}},
    )
    assert result.is_error
    assert [job.state for job in sandbox.world.jobs.values()] == ["cancelled"]
    (job_id,) = sandbox.world.jobs
    assert (await read_json(mcp, f"descript://jobs/{job_id}"))["job_id"] == job_id


async def test_cancelling_the_call_mid_upload_cancels_the_import(
    mcp: Client, sandbox: Sandbox, media: Path
) -> None:
    big = media / "long.wav"
    with big.open("wb") as out:
        out.truncate(2 * 1024**3)
    uploading = anyio.Event()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        if message and message.startswith("Uploading") and progress > 0:
            uploading.set()

    async def call() -> None:
        await mcp.call_tool(
            "import_media",
            {"add_media": {"long.wav": {"path": str(big)}}},
            progress_callback=on_progress,
        )

    async with anyio.create_task_group() as group:
        group.start_soon(call)
        with anyio.fail_after(30):
            await uploading.wait()  # bytes are on their way: now the call is cancelled
        group.cancel_scope.cancel()
    await eventually(  # the server cancels the job as the call unwinds
        lambda: (
            sandbox.world.jobs and all(j.state == "cancelled" for j in sandbox.world.jobs.values())
        ),
        "the import was cancelled",
    )
    assert [job.state for job in sandbox.world.jobs.values()] == ["cancelled"]


async def test_save_file_saves_a_publish_with_byte_progress_and_never_replaces_unasked(
    mcp: Client, sandbox: Sandbox, media: Path
) -> None:
    project = await import_sample(mcp)
    published = structured(await mcp.call_tool("publish", {"project_id": project["project_id"]}))
    target = media / "episode.wav"
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    saved = structured(
        await mcp.call_tool(
            "save_file",
            {"job_id": published["job_id"], "path": str(target)},
            progress_callback=on_progress,
        )
    )
    assert saved["saved"] is True
    assert saved["saved_to"] == str(target)
    assert saved["size"] == target.stat().st_size
    assert saved["job"]["share_url"] == published["share_url"]
    with wave.open(io.BytesIO(target.read_bytes())) as rendered:
        assert rendered.getnframes() == 12 * 16_000
    writes = [m for _, _, m in seen if m and m.startswith("Saving episode.wav")]
    assert len(writes) > 1  # the file came in pieces, each told as it was written
    assert all(f"of {saved['size'] / 1024:.1f} KiB" in m for m in writes)
    assert f"{saved['size'] / 1024:.1f} KiB of" not in writes[-1]  # its end: by the result

    text = error_text(
        await mcp.call_tool("save_file", {"job_id": published["job_id"], "path": str(target)})
    )
    assert "already exists" in text
    target.write_bytes(b"old")
    replaced = structured(
        await mcp.call_tool(
            "save_file",
            {"job_id": published["job_id"], "path": str(target), "overwrite": True},
        )
    )
    assert replaced["size"] == target.stat().st_size > 3
    assert sorted(p.name for p in media.iterdir()) == ["episode.wav", "talk.wav"]  # no leftovers


async def test_save_file_waits_for_a_running_publish_and_renews_a_stale_link(
    mcp: Client, sandbox: Sandbox, media: Path
) -> None:
    project = await import_sample(mcp)
    sandbox.config.download_url_ttl = 0.0  # the job's link is stale once it is done
    sandbox.config.timings.publish = 0.3
    started = structured(
        await mcp.call_tool("publish", {"project_id": project["project_id"], "wait_seconds": 0})
    )
    assert started["finished"] is False
    not_yet = structured(
        await mcp.call_tool(
            "save_file",
            {"job_id": started["job_id"], "path": str(media / "later.wav"), "wait_seconds": 0},
        )
    )
    assert not_yet["saved"] is False
    assert "still running" in not_yet["summary"]
    assert not (media / "later.wav").exists()
    done = structured(
        await mcp.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 10})
    )
    sandbox.config.download_url_ttl = 3600.0  # fresh links from the share page are valid
    saved = structured(
        await mcp.call_tool(
            "save_file", {"job_id": done["job_id"], "path": str(media / "later.wav")}
        )
    )
    assert saved["size"] == (media / "later.wav").stat().st_size


async def test_save_file_saves_transcripts_in_any_format(mcp: Client, media: Path) -> None:
    project = await import_sample(mcp)
    saved = structured(
        await mcp.call_tool(
            "save_file",
            {
                "project_id": project["project_id"],
                "format": "docx",
                "path": str(media / "transcript.docx"),
            },
        )
    )
    assert saved["saved_to"] == str(media / "transcript.docx")
    document = zipfile.ZipFile(media / "transcript.docx").read("word/document.xml")
    assert b"Main" in document
    srt = structured(
        await mcp.call_tool(
            "save_file",
            {"project_id": project["project_id"], "format": "srt", "path": str(media / "a.srt")},
        )
    )
    assert (media / "a.srt").read_text().startswith("1\n00:00:00,000 --> ")
    assert srt["size"] == (media / "a.srt").stat().st_size
    text = error_text(
        await mcp.call_tool(
            "export_transcript", {"project_id": project["project_id"], "format": "docx"}
        )
    )
    assert "save it with save_file" in text


async def test_save_file_says_what_it_needs(mcp: Client, media: Path) -> None:
    project = await import_sample(mcp)
    both = error_text(
        await mcp.call_tool(
            "save_file",
            {"project_id": project["project_id"], "job_id": "x", "path": str(media / "a.md")},
        )
    )
    assert "Give job_id (a publish's media) or project_id (a transcript), not both." in both
    imported = error_text(
        await mcp.call_tool(
            "save_file", {"job_id": project["job_id"], "path": str(media / "a.wav")}
        )
    )
    assert "is not a publish (import/project_media): it has no file to save." in imported
    mixed = error_text(
        await mcp.call_tool(
            "save_file",
            {"job_id": project["job_id"], "format": "srt", "path": str(media / "a.wav")},
        )
    )
    assert "format: for a transcript (project_id), not a publish." in mixed
    outside = error_text(
        await mcp.call_tool(
            "save_file", {"project_id": project["project_id"], "path": "/etc/descript.md"}
        )
    )
    assert "/etc/descript.md" in outside
    assert not Path("/etc/descript.md").exists()


async def test_a_clients_roots_narrow_what_may_be_read(
    make_server, sandbox: Sandbox, media: Path
) -> None:
    (media / "allowed").mkdir()
    (media / "allowed" / "ok.wav").write_bytes(synthesize_wav(2.0))

    async def roots(_context: Any) -> ListRootsResult:
        return ListRootsResult(roots=[Root(uri=(media / "allowed").as_uri())])

    async with Client(make_server(roots=(media,)), mode="legacy", list_roots_callback=roots) as mcp:
        refused = error_text(
            await mcp.call_tool(
                "import_media", {"add_media": {"talk.wav": {"path": str(media / "talk.wav")}}}
            )
        )
        allowed = structured(
            await mcp.call_tool(
                "import_media",
                {"add_media": {"ok.wav": {"path": str(media / "allowed" / "ok.wav")}}},
            )
        )
    assert "outside the folders" in refused
    assert allowed["outcome"] == "success"


async def test_a_file_swapped_for_a_link_mid_import_never_uploads_what_it_points_to(
    make_server, mode: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The attack, through the tool: the path swapped between a file and a link out of the
    root in a loop while imports run. No upload may carry the outside bytes."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    ours = synthesize_wav(1.0)
    secret = (b"SECRET" * len(ours))[: len(ours)]  # the same size: sizes tell nothing
    (outside / "secret.wav").write_bytes(secret)
    (root / "ours.wav").write_bytes(ours)
    victim = root / "victim.wav"
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.link(root / "ours.wav", root / ".stage-file")
            os.replace(root / ".stage-file", victim)
            os.symlink(outside / "secret.wav", root / ".stage-link")
            os.replace(root / ".stage-link", victim)

    thread = threading.Thread(target=swap, daemon=True)
    outcomes: list[bool] = []
    async with Client(make_server(roots=(root,)), mode=mode) as mcp:
        thread.start()
        try:
            with anyio.move_on_after(2.0):
                while True:
                    result = await mcp.call_tool(
                        "import_media",
                        {"add_media": {"v.wav": {"path": str(victim)}}, "force": True},
                    )
                    outcomes.append(not result.is_error)
        finally:
            stop.set()
            thread.join()
    uploads = list(sandbox.world.uploads.values())
    assert any(outcomes)
    assert uploads
    assert all(upload.head == ours[: len(upload.head)] for upload in uploads)
    assert not any(b"SECRET" in upload.head for upload in uploads)
