"""Descript's newer spec, point by point, through the tools against the sandbox: each test
checks what the tool sent (the sandbox's request log) and what it answered, and its docstring
quotes the spec's words the sandbox's behaviour follows (../shared/reference, "Changes in the
newer official spec")."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from mcp import Client
from mcp.server import MCPServer

from descript_mcp.sandbox import OTHER_DRIVE_TOKEN, Sandbox
from descript_mcp.sandbox.app import RequestRecord
from tests.conftest import ASGI_BASE
from tests.server.conftest import SAMPLE, error_text, import_sample, structured

pytestmark = pytest.mark.anyio


@pytest.fixture
def mode() -> str:
    """One protocol era: these tests are about Descript's contract, not the transport."""
    return "auto"


def sent(record: RequestRecord) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(record.body)
    return body


def last_post(sandbox: Sandbox, route: str) -> dict[str, Any]:
    return sent(sandbox.api_requests("POST", route)[-1])


async def _project(mcp: Client, project_id: str) -> dict[str, Any]:
    return structured(await mcp.call_tool("get_project", {"project_id": project_id}))


async def test_a_conversation_is_kept_continued_and_its_refusals_explained(
    mcp: Client, sandbox: Sandbox
) -> None:
    """POST /jobs/agent: `conversation_id` is "Always returned on POST — no need to wait for
    the job to complete"; "Pass it back on your next call, with the same `project_id` …
    Requires `project_id`"; 400 "Conversation <id> belongs to a different project"; 404
    "Conversation <id> not found"; `resolved_model` is `auto` for an `auto` request and
    "`inherited` when a resume keeps the conversation's model"."""
    project = (await import_sample(mcp))["project_id"]
    early = structured(
        await mcp.call_tool(
            "agent_edit", {"project_id": project, "prompt": "Add captions", "wait_seconds": 0}
        )
    )
    assert early["finished"] is False
    conversation = early["conversation_id"]  # from the 201, before the job's result has it
    assert early["resolved_model"] == "auto"
    ended = structured(
        await mcp.call_tool("get_job", {"job_id": early["job_id"], "wait_seconds": 10})
    )
    assert ended["conversation_id"] == conversation

    continued = structured(
        await mcp.call_tool(
            "agent_edit",
            {"project_id": project, "prompt": "Now shorten them", "conversation_id": conversation},
        )
    )
    assert last_post(sandbox, "/jobs/agent")["conversation_id"] == conversation
    assert (continued["conversation_id"], continued["resolved_model"]) == (
        conversation,
        "inherited",
    )

    jobs = len(sandbox.world.jobs)
    elsewhere = (await import_sample(mcp, "Elsewhere"))["project_id"]
    jobs += 1
    other_project = error_text(
        await mcp.call_tool(
            "agent_edit",
            {"project_id": elsewhere, "prompt": "x", "conversation_id": conversation},
        )
    )
    assert f"Conversation {conversation} belongs to another project (400" in other_project
    assert "continue it with that project's project_id" in other_project
    assert "Nothing was started" in other_project
    unknown = "9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb"
    missing = error_text(
        await mcp.call_tool(
            "agent_edit", {"project_id": project, "prompt": "x", "conversation_id": unknown}
        )
    )
    assert f"Descript has no conversation {unknown} on this drive (404" in missing
    assert len(sandbox.world.jobs) == jobs  # neither refusal started a job

    posts = len(sandbox.api_requests("POST", "/jobs/agent"))
    mistaken = error_text(
        await mcp.call_tool(
            "agent_edit",
            {"project_id": project, "prompt": "x", "conversation_id": early["job_id"]},
        )
    )
    assert "not its job_id" in mistaken
    assert len(sandbox.api_requests("POST", "/jobs/agent")) == posts  # refused before sending


async def test_mute_says_it_silences_the_whole_script_layer(mcp: Client, sandbox: Sandbox) -> None:
    """`clips[].mute`: "For a sequence clip, mutes the sequence's own tracks. For any other
    clip, mutes the composition's script layer, which silences every clip on it — including
    clips already in the composition." """
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    clip = tools["import_media"].input_schema["$defs"]["Clip"]["properties"]["mute"]
    assert "script layer" in clip["description"]
    assert "existing ones too" in clip["description"]
    project = await import_sample(mcp)
    main = next(
        c for c in (await _project(mcp, project["project_id"]))["compositions"] if c["duration"]
    )
    structured(
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
    assert last_post(sandbox, "/jobs/import/project_media")["update_compositions"][0][
        "append_clips"
    ] == [{"media": "music.wav", "mute": True}]
    made = sandbox.world.projects[project["project_id"]]
    composition = next(c for c in made.compositions if c.id == main["id"])
    assert [muted for _, muted in made.clips_of(composition)] == [True, True]


async def test_each_tool_takes_the_composition_the_spec_says(mcp: Client, sandbox: Sandbox) -> None:
    """Transcript export: "If omitted, the first composition in the project is used" — in a
    project made by an import that is the empty placeholder, so the tools name the first with
    content. Publish: "If omitted, the first composition that has content is used, skipping
    the empty placeholder". Agent: given a composition it focuses on it "rather than choosing
    one automatically"; given none, it chooses. An import into a new project without
    compositions gets one built of its media (one live report)."""
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    described = {
        name: tools[name].input_schema["properties"]["composition_id"]["description"]
        for name in ("publish", "export_transcript", "agent_edit", "save_file")
    }
    assert described["agent_edit"].endswith("default: the agent chooses")
    assert all(
        text.endswith("default: the first with content")
        for name, text in described.items()
        if name != "agent_edit"
    )
    imported = structured(
        await mcp.call_tool(
            "import_media",
            {"project_name": "No compositions", "add_media": {"talk.wav": {"url": SAMPLE}}},
        )
    )
    project_id = imported["project_id"]
    placeholder, built = (await _project(mcp, project_id))["compositions"]
    assert (placeholder["duration"], built["name"], built["duration"]) == (
        0,
        "No compositions",
        pytest.approx(12, abs=0.1),
    )
    assert imported["created_compositions"] == ["No compositions"]

    transcript = structured(
        await mcp.call_tool("export_transcript", {"project_id": project_id, "format": "txt"})
    )
    assert last_post(sandbox, "/export/transcript")["composition_id"] == built["id"]
    assert transcript["composition_id"] == built["id"]
    assert transcript["text"].strip()
    # Left to Descript, the export is the placeholder's, empty.
    response = await sandbox_post(
        sandbox, "/export/transcript", {"project_id": project_id, "format": "txt"}
    )
    assert response["composition_id"] == placeholder["id"]
    assert not response["text"].strip()

    edited = structured(
        await mcp.call_tool("agent_edit", {"project_id": project_id, "prompt": "Studio sound"})
    )
    assert "composition_id" not in last_post(sandbox, "/jobs/agent")
    assert edited["outcome"] == "success"  # the agent found the media to edit
    published = structured(await mcp.call_tool("publish", {"project_id": project_id}))
    assert "composition_id" not in last_post(sandbox, "/jobs/publish")
    assert published["composition_id"] == built["id"]


async def sandbox_post(sandbox: Sandbox, route: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the sandbox answers a transcript export sent as is."""
    transport = httpx.ASGITransport(app=sandbox.app)
    async with httpx.AsyncClient(transport=transport, base_url=f"{ASGI_BASE}/v1/") as http:
        answer = await http.post(
            route.lstrip("/"), json=body, headers={"Authorization": f"Bearer {sandbox.token}"}
        )
    answer.raise_for_status()
    return {"composition_id": answer.headers["x-composition-id"], "text": answer.text}


@pytest.fixture
def in_new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine's clock at UTC-5 (or -4): a time without an offset must not move."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("in_new_york")
async def test_dates_are_utc_and_a_plain_date_is_the_whole_utc_day(
    mcp: Client, sandbox: Sandbox
) -> None:
    """/search: "Values without a timezone offset are read as UTC"; `updated_before` a date
    "interpreted as the end of that UTC day" (`updated_after`: its start)."""
    project = await import_sample(mcp, "Updated today")
    today = datetime.now(UTC).date().isoformat()

    listed = structured(
        await mcp.call_tool(
            "list_projects", {"updated_after": "2026-08-01T10:00", "updated_before": today}
        )
    )
    query = dict(next(r for r in reversed(sandbox.requests) if r.path == "/projects").query)
    assert query["updated_after"] == "2026-08-01T10:00:00Z"  # not 14:00Z, New York's 10:00
    assert query["updated_before"] == f"{today}T23:59:59.999000Z"
    assert [p["id"] for p in listed["projects"]] == [project["project_id"]]

    found = structured(
        await mcp.call_tool(
            "search_drive",
            {"query": "updated today", "updated_before": today, "types": ["project"]},
        )
    )
    query = dict(sandbox.api_requests("GET", "/search")[-1].query)
    assert query["updated_before"] == today  # a date, which Descript reads as the whole day
    assert [hit["project_id"] for hit in found["results"]] == [project["project_id"]]

    jobs = structured(await mcp.call_tool("list_jobs", {"created_after": today}))
    query = dict(r for r in sandbox.api_requests("GET", "/jobs")[-1].query)
    assert query["created_after"] == f"{today}T00:00:00Z"
    assert jobs["jobs"]


async def test_visual_search_is_alone_and_for_enterprise_drives(
    mcp: Client, sandbox: Sandbox
) -> None:
    """`match`: "`visual` matches what appears in videos and images, and is only available on
    drives with the Enterprise plan. `visual` cannot be combined with another match kind";
    403 "Visual search is not available for this drive" (error code `Forbidden`)."""
    structured(
        await mcp.call_tool(
            "import_media",
            {
                "project_name": "Stills",
                "add_media": {"beach.png": {"url": f"{ASGI_BASE}/_sandbox/media/sample.wav"}},
            },
        )
    )
    searches = len(sandbox.api_requests("GET", "/search"))
    combined = error_text(
        await mcp.call_tool("search_drive", {"query": "beach", "match": ["visual", "name"]})
    )
    assert "cannot be combined with name or content" in combined
    assert len(sandbox.api_requests("GET", "/search")) == searches  # refused before sending
    refused = error_text(
        await mcp.call_tool("search_drive", {"query": "beach", "match": ["visual"]})
    )
    assert "403" in refused
    assert "Visual search is not available for this drive" in refused
    sandbox.config.drives[0].visual_search = True
    seen = structured(await mcp.call_tool("search_drive", {"query": "beach", "match": ["visual"]}))
    assert dict(sandbox.api_requests("GET", "/search")[-1].query)["match"] == "visual"
    assert [(hit["type"], hit["name"]) for hit in seen["results"]] == [("image", "beach.png")]


async def test_list_jobs_says_which_types_are_documented_and_why_one_is_refused(
    mcp: Client, sandbox: Sandbox
) -> None:
    """GET /jobs `type`: the spec's enum is `import/project_media` and `agent`; one live report
    had `publish`, `export/timeline` and `import/drive_media` accepted, another refused."""
    await import_sample(mcp)
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    described = tools["list_jobs"].input_schema["properties"]["type"]["description"]
    assert "documents the first two" in described
    imports = structured(await mcp.call_tool("list_jobs", {"type": "import/project_media"}))
    assert [job["job_type"] for job in imports["jobs"]] == ["import/project_media"]
    refused = error_text(await mcp.call_tool("list_jobs", {"type": "publish"}))
    assert dict(sandbox.api_requests("GET", "/jobs")[-1].query)["type"] == "publish"
    assert "Descript refused type publish (400" in refused
    assert "List without type and read each job's job_type" in refused


async def test_errors_mean_what_they_mean_on_their_route(
    mcp: Client, sandbox: Sandbox, make_server: Callable[..., MCPServer[Any]]
) -> None:
    """/published_projects: 401 "Private to drive, user must log in to account with access";
    "1000 requests/hour/user". /jobs/publish: "Returns 403 if the requested level is not
    permitted by the drive's publish settings" (the body says only "Forbidden")."""
    project = (await import_sample(mcp))["project_id"]
    drive = sandbox.config.drives[0]
    drive.allowed_access_levels = ("unlisted", "drive", "private")
    forbidden = error_text(
        await mcp.call_tool("publish", {"project_id": project, "access_level": "public"})
    )
    assert "(403: “Forbidden”)" in forbidden
    assert "the drive's publish settings do not permit the access_level" in forbidden
    published = structured(
        await mcp.call_tool("publish", {"project_id": project, "access_level": "drive"})
    )
    share_url = published["share_url"]
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert "1,000 an hour" in (tools["get_published_page"].description or "")
    page = structured(
        await mcp.call_tool("get_published_page", {"share_url": f"{share_url}?utm_source=mail"})
    )
    slug = urlsplit(share_url).path.rsplit("/", 1)[-1]
    assert sandbox.api_requests("GET", "/published_projects/")[-1].path.endswith(f"/{slug}")
    assert page["access_level"] == "drive"
    async with Client(make_server(api_key=OTHER_DRIVE_TOKEN), mode="auto") as stranger:
        private = error_text(
            await stranger.call_tool("get_published_page", {"share_url": share_url})
        )
    assert "private to its drive (401" in private
    assert "not this API token" in private
    assert "Create a new token" not in private


async def test_a_publish_without_a_link_is_saved_through_its_share_page(
    mcp: Client, sandbox: Sandbox, make_server: Callable[..., MCPServer[Any]], tmp_path: Any
) -> None:
    """`download_url`: "Present when the job completed successfully and signing succeeded";
    the published page answers with a freshly signed `download_url`."""
    sandbox.config.publish_signing_fails = True
    async with Client(make_server(roots=(tmp_path,)), mode="auto") as client:
        project = (await import_sample(client))["project_id"]
        published = structured(await client.call_tool("publish", {"project_id": project}))
        assert published["outcome"] == "success"
        assert "download_url" not in published
        assert "Descript gave no download link, save_file gets one" in published["summary"]
        saved = structured(
            await client.call_tool(
                "save_file",
                {"job_id": published["job_id"], "path": str(tmp_path / "episode.wav")},
            )
        )
    assert saved["saved"] is True
    assert (tmp_path / "episode.wav").read_bytes()[:4] == b"RIFF"
    assert sandbox.api_requests("GET", "/published_projects/")


async def test_workspaces_are_matched_as_the_spec_says(mcp: Client, sandbox: Sandbox) -> None:
    """`workspace_name`: "matched by name (case-insensitive)"; "unknown names return 404";
    "When set to `Personal`, `team_access` must be `none` or omitted. When set to `General`
    or a custom workspace name, `team_access` must be `edit`, `comment`, or `view`; omitting
    it defaults to `view`, and `none` is rejected"; "For custom workspaces, the caller must
    be a member of that workspace"."""
    drive = sandbox.config.drives[0]
    drive.workspaces = {"Marketing": True, "Finance": False}
    general = await import_sample(mcp, "In general", workspace_name="general")
    assert last_post(sandbox, "/jobs/import/project_media")["workspace_name"] == "general"
    assert sandbox.world.projects[general["project_id"]].team_access == "view"
    team = await import_sample(mcp, "For marketing", workspace_name="MARKETING", team_access="edit")
    assert sandbox.world.projects[team["project_id"]].team_access == "edit"

    posts = len(sandbox.api_requests("POST", "/jobs/import/project_media"))
    for workspace, access in (("General", "none"), ("Personal", "edit")):
        refused = error_text(
            await mcp.call_tool(
                "import_media",
                {
                    "project_name": "x",
                    "workspace_name": workspace,
                    "team_access": access,
                    "add_media": {"a.wav": {"url": SAMPLE}},
                },
            )
        )
        assert f"{workspace} workspace takes team_access" in refused
    assert len(sandbox.api_requests("POST", "/jobs/import/project_media")) == posts
    for workspace, status in (("Finance", "403"), ("Moon Team", "404")):
        refused = error_text(
            await mcp.call_tool(
                "import_media",
                {
                    "project_name": "x",
                    "workspace_name": workspace,
                    "add_media": {"a.wav": {"url": SAMPLE}},
                },
            )
        )
        assert f"({status}" in refused


async def test_the_sandbox_sample_is_a_reference_every_process_resolves(
    sandbox: Sandbox, make_server: Callable[..., MCPServer[Any]]
) -> None:
    """The sample named in a `--sandbox` server's instructions is `sandbox:sample.wav`, which
    each server process resolves to its own sandbox (a client may read the instructions from
    another process); a server on Descript says it has no sandbox."""
    media = f"{ASGI_BASE}/_sandbox/media/"
    async with Client(make_server(sandbox_media=media), mode="auto") as mcp:
        imported = structured(
            await mcp.call_tool(
                "import_media",
                {"project_name": "Sample", "add_media": {"s.wav": {"url": "sandbox:sample.wav"}}},
            )
        )
    assert imported["outcome"] == "success"
    assert last_post(sandbox, "/jobs/import/project_media")["add_media"] == {
        "s.wav": {"url": f"{media}sample.wav"}
    }
    async with Client(make_server(), mode="auto") as mcp:
        refused = error_text(
            await mcp.call_tool(
                "import_media",
                {"project_name": "Sample", "add_media": {"s.wav": {"url": "sandbox:sample.wav"}}},
            )
        )
    assert "this server is connected to Descript" in refused
