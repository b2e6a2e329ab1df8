"""The free, read-only tools, and every error class as the model sees it."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from pydantic import TypeAdapter

from descript_mcp.client.models import SearchHit
from descript_mcp.sandbox import OTHER_DRIVE_TOKEN, Sandbox
from descript_mcp.server.tools.projects import _flatten
from tests.server.conftest import error_text, import_sample, structured

pytestmark = pytest.mark.anyio


async def test_drive_status_and_agent_models(mcp: Client, sandbox: Sandbox) -> None:
    status = structured(await mcp.call_tool("get_drive_status", {}))
    assert status == {
        "drive_id": sandbox.config.drives[0].id,
        "drive_name": "Sandbox Drive",
        "api_version": "1.2",
    }
    models = structured(await mcp.call_tool("list_agent_models", {}))
    assert {"id": "auto", "cost": "medium"} in models["models"]
    assert {
        "id": "claude-opus",
        "cost": "high",
        "resolves_to": "claude-opus-5.5",
        "description": "Tracks stable Anthropic Claude Opus",
    } in models["aliases"]


async def test_projects_listed_read_and_searched(mcp: Client) -> None:
    first = await import_sample(mcp, name="Morning Show", folder_name="Shows")
    await import_sample(mcp, name="Evening Show")
    listed = structured(
        await mcp.call_tool(
            "list_projects", {"name": "show", "sort": "name", "direction": "asc", "limit": 1}
        )
    )
    assert [p["name"] for p in listed["projects"]] == ["Evening Show"]
    assert listed["next_cursor"]
    in_folder = structured(await mcp.call_tool("list_projects", {"folder_path": "Shows"}))
    assert [p["id"] for p in in_folder["projects"]] == [first["project_id"]]

    project = structured(await mcp.call_tool("get_project", {"project_id": first["project_id"]}))
    assert project["media_files"]["sample.wav"] == {"type": "audio", "duration": 12.0}
    assert "Main" in [c["name"] for c in project["compositions"]]

    found = structured(
        await mcp.call_tool("search_drive", {"query": "morning", "types": ["project"]})
    )
    assert found["results"][0]["project_id"] == first["project_id"]
    assert set(found["results"][0]) == {"type", "name", "project_id", "url", "updated_at"}


async def test_transcripts_come_back_as_text(mcp: Client) -> None:
    project = await import_sample(mcp)
    markdown = structured(
        await mcp.call_tool(
            "export_transcript",
            {"project_id": project["project_id"], "include_speaker_labels": "every_paragraph"},
        )
    )
    assert markdown["text"].startswith("# Main")
    assert "Host: " in markdown["text"]
    assert markdown["truncated"] is False
    assert markdown["size"] == len(markdown["text"].encode())
    srt = structured(
        await mcp.call_tool(
            "export_transcript",
            {
                "project_id": project["project_id"],
                "format": "srt",
                "timecodes": {"frequency_seconds": 5},
            },
        )
    )
    assert srt["text"].startswith("1\n00:00:00,000 --> ")
    assert srt["filename"] == "transcript.srt"


async def test_no_token_says_how_to_configure_one(make_server) -> None:
    async with Client(make_server(api_key=None)) as mcp:
        text = error_text(await mcp.call_tool("get_drive_status", {}))
    assert "Settings → API Tokens" in text
    assert "DESCRIPT_API_KEY" in text


async def test_a_rejected_token_is_a_401_with_what_to_do(make_server) -> None:
    async with Client(make_server(api_key="revoked-token-123")) as mcp:
        text = error_text(await mcp.call_tool("list_projects", {}))
    assert "Descript rejected the API token (401" in text
    assert "revoked-token-123" not in text


async def test_402_names_the_short_balance(mcp: Client, sandbox: Sandbox) -> None:
    project = await import_sample(mcp)
    sandbox.world.drives[sandbox.config.drives[0].id].ai_credits = 0
    text = error_text(
        await mcp.call_tool(
            "agent_edit", {"project_id": project["project_id"], "prompt": "Add captions"}
        )
    )
    assert "Not enough AI credits in the Descript drive (402)" in text


async def test_403_points_at_the_tokens_drive(make_server, mode: str) -> None:
    async with Client(make_server(), mode=mode) as mine:
        project = await import_sample(mine)
    async with Client(make_server(api_key=OTHER_DRIVE_TOKEN), mode=mode) as theirs:
        text = error_text(
            await theirs.call_tool("get_project", {"project_id": project["project_id"]})
        )
    assert "Descript refused access (403)" in text
    assert "get_drive_status" in text


async def test_publish_while_publishing_and_422(mcp: Client, sandbox: Sandbox) -> None:
    project = await import_sample(mcp)
    video = error_text(
        await mcp.call_tool("publish", {"project_id": project["project_id"], "media_type": "Video"})
    )
    assert 'Retry with media_type "Audio"' in video
    sandbox.config.timings.publish = 30.0
    await mcp.call_tool("publish", {"project_id": project["project_id"], "wait_seconds": 0})
    # The same call again is answered with the running publish; forced, Descript refuses it.
    same = structured(
        await mcp.call_tool("publish", {"project_id": project["project_id"], "wait_seconds": 0})
    )
    assert same["summary"].startswith("The same request was submitted at ")
    again = error_text(
        await mcp.call_tool("publish", {"project_id": project["project_id"], "force": True})
    )
    assert "A publish is already running for this project (429)" in again


async def test_rate_limit_says_when_to_retry(mcp: Client, sandbox: Sandbox) -> None:
    sandbox.config.rate_limit_requests = 0
    text = error_text(await mcp.call_tool("list_projects", {}))
    assert "Descript's rate limit was reached (429). Retry after " in text


async def test_an_unconfirmed_submission_says_not_to_resubmit(
    mcp: Client, sandbox: Sandbox
) -> None:
    from descript_mcp.sandbox import Fault

    sandbox.faults.add(Fault("POST", "/jobs/import/project_media", status=502, when="before"))
    text = error_text(
        await mcp.call_tool(
            "import_media",
            {"add_media": {"a.wav": {"url": "http://sandbox.test/_sandbox/media/sample.wav"}}},
        )
    )
    assert "Do not submit it again" in text
    assert "list_jobs" in text
    assert "get_job" in text


async def test_a_descript_outage_says_what_is_safe_to_retry(mcp: Client, sandbox: Sandbox) -> None:
    from descript_mcp.sandbox import Fault

    sandbox.faults.add(Fault("GET", "/status", status=503, times=10))
    text = error_text(await mcp.call_tool("get_drive_status", {}))
    assert "Descript failed (503" in text
    assert "check list_jobs" in text


@pytest.mark.parametrize(
    ("hit", "expected"),
    [
        (
            {
                "type": "audio",
                "name": "a.wav",
                "asset_id": "as1",
                "location": "/x",
                "duration": 3.5,
            },
            {
                "type": "audio",
                "name": "a.wav",
                "asset_id": "as1",
                "location": "/x",
                "duration": 3.5,
            },
        ),
        (
            {"type": "project_folder", "name": "Shows", "folder_id": "f1"},
            {"type": "project_folder", "name": "Shows", "folder_id": "f1"},
        ),
        ({"type": "brand_kit"}, {"type": "brand_kit", "name": ""}),  # a kind added later
    ],
)
def test_every_kind_of_search_hit_flattens_to_one_shape(
    hit: dict[str, Any], expected: dict[str, Any]
) -> None:
    hits = TypeAdapter(list[SearchHit]).validate_python(
        [{"updated_at": "2026-11-01T00:00:00Z", **hit}]
    )
    assert _flatten(hits[0]).model_dump(exclude_none=True, exclude={"updated_at"}) == expected
