"""--read-only and --toolsets: what is listed, and what a call by name to anything else gets."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from mcp import Client

from descript_mcp.errors import ConfigurationError
from descript_mcp.sandbox import Sandbox
from descript_mcp.server.tools import OPT_IN, TOOLSETS, chosen_toolsets
from descript_mcp.server.tools.catalogue import entries
from descript_mcp.settings import Settings, Toolset
from tests.server.conftest import SAMPLE, error_text, import_sample, structured

pytestmark = pytest.mark.anyio

WRITES = {
    "import_media": {"add_media": {"a.wav": {"url": SAMPLE}}, "project_name": "No"},
    "agent_edit": {"prompt": "Cut it all", "project_name": "No"},
    "publish": {"project_id": "00000000-0000-4000-8000-000000000000"},
    "cancel_job": {"job_id": "job-1"},
    "save_file": {"project_id": "p", "path": "/tmp/never.md"},  # under no root,
}


async def test_read_only_lists_only_reads_and_refuses_the_rest_by_name(
    make_server, sandbox: Sandbox, mode: str, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    async with Client(make_server(), mode=mode) as full:
        project = await import_sample(full)
    jobs_before = dict(sandbox.world.jobs)
    async with Client(make_server(read_only=True, roots=(folder,)), mode=mode) as mcp:
        tools = (await mcp.list_tools()).tools
        assert all(t.annotations and t.annotations.read_only_hint for t in tools)
        assert {t.name for t in tools} >= {"get_job", "list_jobs", "get_project", "search_drive"}
        for name, arguments in WRITES.items():
            text = error_text(await mcp.call_tool(name, arguments))
            assert text.startswith(f"{name} is off: this server runs read-only"), text
        # Everything it offers still works, and looking starts nothing.
        job = structured(await mcp.call_tool("get_job", {"job_id": project["job_id"]}))
        assert job["outcome"] == "success"
        transcript = structured(
            await mcp.call_tool("export_transcript", {"project_id": project["project_id"]})
        )
        assert transcript["text"]
    assert sandbox.world.jobs == jobs_before
    assert list(folder.iterdir()) == []


async def test_toolsets_choose_the_groups_and_name_the_missing_one(make_server) -> None:
    async with Client(make_server(toolsets=("media",))) as mcp:
        listed = {t.name for t in (await mcp.list_tools()).tools}
        # The job tools come with every toolset: each job tool hands back a job id.
        assert listed == {"import_media", "get_job", "list_jobs", "cancel_job"}
        text = error_text(
            await mcp.call_tool("publish", {"project_id": "00000000-0000-4000-8000-000000000000"})
        )
    assert "publish is in the publish toolset, which this server does not offer" in text
    assert "(it offers media, jobs)" in text
    assert "adds publish to --toolsets (DESCRIPT_MCP_TOOLSETS)" in text


async def test_the_default_leaves_out_the_opt_in_toolsets_and_all_brings_them(
    make_server,
) -> None:
    async with Client(make_server()) as default, Client(make_server(toolsets=("all",))) as every:
        offered = {t.name for t in (await default.list_tools()).tools}
        everything = {t.name for t in (await every.list_tools()).tools}
    opt_in = {entry.name for entry in entries() if entry.toolset in ("experimental", "uploads")}
    assert {"export_timeline", "upload_media", "start_upload"} <= opt_in
    assert everything - offered == opt_in
    assert chosen_toolsets(("default",)) == [n for n in TOOLSETS if n not in OPT_IN]
    assert chosen_toolsets(("experimental",)) == ["jobs", "experimental"]
    assert chosen_toolsets(("default", "uploads")) == [n for n in TOOLSETS if n != "experimental"]
    # Callers elsewhere (over HTTP, no local files) have the upload view by default.
    assert chosen_toolsets(("default",), remote=True) == chosen_toolsets(("default", "uploads"))


def test_toolsets_and_read_only_come_from_the_environment_and_bad_names_are_refused() -> None:
    settings = Settings.load(
        {"DESCRIPT_MCP_TOOLSETS": "media, publish", "DESCRIPT_MCP_READ_ONLY": "true"}
    )
    assert settings.toolsets == ("media", "publish")
    assert settings.read_only is True
    with pytest.raises(ConfigurationError, match="DESCRIPT_MCP_TOOLSETS"):
        Settings.load({"DESCRIPT_MCP_TOOLSETS": "media,editing"})


def test_the_settings_know_every_toolset_by_name() -> None:
    assert set(get_args(Toolset)) == set(TOOLSETS) | {"default", "all"}
