"""The rest of the API through the tools, against the sandbox: import options, a published
page, the read tools' filters, and the experimental toolset (continuing an agent conversation
is in test_newer_spec.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from descript_mcp.sandbox import Sandbox
from descript_mcp.sandbox.media import synthesize_wav
from tests.server.conftest import SAMPLE, error_text, import_sample, structured

pytestmark = pytest.mark.anyio


async def _compositions(mcp: Client, project_id: str) -> dict[str, Any]:
    project = structured(await mcp.call_tool("get_project", {"project_id": project_id}))
    return {c["name"]: c for c in project["compositions"]}


async def test_imports_reach_workspaces_and_append_to_a_timeline_with_muted_clips(
    mcp: Client, sandbox: Sandbox
) -> None:
    project = await import_sample(mcp, workspace_name="General")
    made = sandbox.world.projects[project["project_id"]]
    assert made.team_access == "view"  # General shares with the team unless told otherwise
    main = (await _compositions(mcp, project["project_id"]))["Main"]
    appended = structured(
        await mcp.call_tool(
            "import_media",
            {
                "project_id": project["project_id"],
                "add_media": {"music.wav": {"url": SAMPLE}},
                "update_compositions": [
                    {
                        "composition_id": main["id"],
                        "append_clips": [{"media": "music.wav", "mute": True}],
                    }
                ],
            },
        )
    )
    assert appended["outcome"] == "success"
    clips = next(c for c in made.compositions if c.id == main["id"]).clips
    assert clips == [("sample.wav", False), ("music.wav", True)]
    unknown = error_text(
        await mcp.call_tool(
            "import_media",
            {
                "project_name": "Nowhere",
                "workspace_name": "Moon Team",
                "add_media": {"a.wav": {"url": SAMPLE}},
            },
        )
    )
    assert "Not found (404)" in unknown
    assert "Moon Team" in unknown
    orphan = error_text(
        await mcp.call_tool(
            "import_media",
            {
                "project_name": "New",
                "add_media": {"a.wav": {"url": SAMPLE}},
                "update_compositions": [
                    {"composition_id": main["id"], "append_clips": [{"media": "a.wav"}]}
                ],
            },
        )
    )
    assert "project_id" in orphan
    assert "Descript rejected the request (400)" in orphan


async def test_a_published_page_reads_back_with_subtitles(mcp: Client) -> None:
    project = await import_sample(mcp)
    published = structured(
        await mcp.call_tool(
            "publish", {"project_id": project["project_id"], "access_level": "unlisted"}
        )
    )
    page = structured(
        await mcp.call_tool("get_published_page", {"share_url": published["share_url"]})
    )
    assert page["project_id"] == project["project_id"]
    assert page["access_level"] == "unlisted"
    assert page["media_type"].lower() == published["media_type"].lower()
    assert page["duration_seconds"] == pytest.approx(12.0)
    assert page["subtitles"].startswith("WEBVTT")
    assert page["download_url"].startswith("http")
    missing = error_text(await mcp.call_tool("get_published_page", {"share_url": "nope"}))
    assert "Not found (404)" in missing


async def test_the_read_tools_pass_their_filters(mcp: Client, sandbox: Sandbox) -> None:
    older = await import_sample(mcp, name="Older")
    sandbox.config.clock_offset = 3 * 24 * 3600.0  # the next project is made three days later
    newer = await import_sample(mcp, name="Newer")
    between = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    async def names(arguments: dict[str, Any]) -> list[str]:
        listed = structured(await mcp.call_tool("list_projects", arguments))
        return [p["name"] for p in listed["projects"]]

    assert await names({"created_before": between}) == ["Older"]
    assert await names({"created_after": between}) == ["Newer"]
    assert await names({"updated_after": between}) == ["Newer"]
    jobs = structured(await mcp.call_tool("list_jobs", {"created_before": between}))
    assert [j["job_id"] for j in jobs["jobs"]] == [older["job_id"]]
    found = structured(
        await mcp.call_tool(
            "search_drive",
            {"query": "e", "owners": [sandbox.config.drives[0].user_id], "updated_after": between},
        )
    )
    assert {r["project_id"] for r in found["results"]} == {newer["project_id"]}


@pytest.fixture
async def experimental(make_server, tmp_path: Path) -> Any:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "voice.wav").write_bytes(synthesize_wav(2.0))
    async with Client(make_server(toolsets=("all",), roots=(folder,))) as client:
        yield client, folder


async def test_a_timeline_export_runs_and_save_file_saves_it(experimental: Any) -> None:
    mcp, folder = experimental
    project = await import_sample(mcp)
    exported = structured(
        await mcp.call_tool(
            "export_timeline", {"project_id": project["project_id"], "format": "fcp"}
        )
    )
    assert exported["outcome"] == "success"
    assert "Experimental: an undocumented Descript route" in exported["summary"]
    assert exported["file_name"].endswith(".fcpxml")
    saved = structured(
        await mcp.call_tool(
            "save_file", {"job_id": exported["job_id"], "path": str(folder / "cut.fcpxml")}
        )
    )
    assert saved["saved"] is True
    assert (folder / "cut.fcpxml").read_text().lstrip().startswith("<?xml")
    refused = error_text(
        await mcp.call_tool(
            "export_timeline",
            {"project_id": project["project_id"], "format": "fcp", "create_track_per_file": True},
        )
    )
    assert "Descript rejected the request (400)" in refused


async def test_drive_media_imports_in_threes(experimental: Any, sandbox: Sandbox) -> None:
    mcp, folder = experimental
    imported = structured(
        await mcp.call_tool(
            "import_drive_media",
            {
                "add_media": {
                    "Music/theme.wav": {"url": SAMPLE},
                    "voice.wav": {"path": str(folder / "voice.wav")},
                }
            },
        )
    )
    assert imported["outcome"] == "success"
    assert imported["job_type"] == "import/drive_media"
    assert "project_id" not in imported
    assert sorted(m["name"] for m in imported["media"]) == ["Music/theme.wav", "voice.wav"]
    jobs_before = len(sandbox.world.jobs)
    four = {f"clip{n}.wav": {"url": SAMPLE} for n in range(4)}
    refused = error_text(await mcp.call_tool("import_drive_media", {"add_media": four}))
    assert "at most 3 files per drive media import" in refused
    assert len(sandbox.world.jobs) == jobs_before  # refused before anything was sent
