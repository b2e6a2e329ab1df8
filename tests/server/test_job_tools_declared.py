"""A job tool is one by its declaration (`@tool(job=True)`), and nothing else is remembered by
hand: the job view binds to it, and the job tools' one path sends its request with this
server's callback URL. These tests fail when a tool answers with a job and is not declared
one, or when a job-creating tool reaches Descript without the callback URL."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

from descript_mcp.sandbox import Sandbox
from descript_mcp.server.job_view import JOB_VIEW_URI
from descript_mcp.server.summaries import JobSummary
from descript_mcp.server.tools import build_tools
from descript_mcp.settings import Settings
from tests.server.conftest import SAMPLE, import_sample, structured

pytestmark = pytest.mark.anyio

EVERY_TOOLSET = Settings(toolsets=("all",))
CALLBACKS = "http://127.0.0.1:9"


def test_a_tool_that_answers_with_a_job_is_declared_a_job_tool() -> None:
    for tool in build_tools(EVERY_TOOLSET).offered:
        spec = tool.spec
        answers_a_job = tool.declared.fn_metadata.output_model is JobSummary
        # The upload view's own tool answers the view, which follows the import itself.
        assert spec.job == (answers_a_job and not spec.app_only), tool.name


async def test_every_job_tool_shows_the_job_view(
    make_server: Callable[..., MCPServer[Any]],
) -> None:
    async with Client(make_server(toolsets=("all",))) as mcp:
        listed = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    job_tools = {t.name for t in build_tools(EVERY_TOOLSET).offered if t.spec.job}
    assert job_tools
    for name in job_tools:
        assert (listed[name].meta or {}).get("ui", {}).get("resourceUri") == JOB_VIEW_URI, name


async def test_every_job_creating_tool_sends_the_callback_url(
    make_server: Callable[..., MCPServer[Any]], sandbox: Sandbox
) -> None:
    """Each tool that starts a job, called once: its POST to Descript carries a callback URL
    of this server's (job tools no longer pass it themselves)."""
    async with Client(
        make_server(toolsets=("all",), transport="http", callback_url=CALLBACKS)
    ) as mcp:
        project = (await import_sample(mcp))["project_id"]
        arguments: dict[str, dict[str, Any]] = {
            "import_media": {"add_media": {"a.wav": {"url": SAMPLE}}, "wait_seconds": 0},
            "agent_edit": {"project_id": project, "prompt": "Add captions", "wait_seconds": 0},
            "publish": {"project_id": project, "wait_seconds": 0},
            "export_timeline": {"project_id": project, "format": "edl", "wait_seconds": 0},
            "import_drive_media": {"add_media": {"b.wav": {"url": SAMPLE}}, "wait_seconds": 0},
            "start_upload": {"files": [{"name": "c.wav", "file_size": 10}]},
        }
        creating = {
            t.name
            for t in build_tools(EVERY_TOOLSET).offered
            if t.annotations is not None
            and not t.annotations.read_only_hint
            and t.declared.fn_metadata.output_model is JobSummary
            and t.name != "cancel_job"
        }
        assert creating == set(arguments), "a new job-creating tool: add its call here"
        for name, given in arguments.items():
            before = len(sandbox.api_requests("POST", "/jobs/"))
            structured(await mcp.call_tool(name, given))
            (sent,) = sandbox.api_requests("POST", "/jobs/")[before:]
            assert json.loads(sent.body)["callback_url"].startswith(f"{CALLBACKS}/callbacks/"), name
