"""The round trip a new user runs first: the MCP tools import, edit and publish on a sandbox,
while each job's progress is printed as the server reports it."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any, TextIO

from mcp import Client
from mcp.types import CallToolResult, TextResourceContents

from descript_mcp.sandbox import Sandbox, SandboxConfig, serve
from descript_mcp.server import build_server
from descript_mcp.settings import Settings

AGENT_PROMPT = "Apply Studio Sound to every clip, remove filler words and add captions."


class DemoError(Exception):
    """A step of the demo did not succeed; the message says which."""


async def run_demo(*, fast: bool = False, out: TextIO = sys.stdout) -> None:
    config = SandboxConfig.for_tests() if fast else SandboxConfig()
    with tempfile.TemporaryDirectory() as home:
        async with Sandbox(config) as sandbox, serve(sandbox) as api_url:
            out.write(f"Started the Descript sandbox at {api_url}\n")
            settings = Settings(
                api_key=sandbox.token,
                api_url=api_url,
                history_path=Path(home) / "history.sqlite3",
                wait_seconds=50,
            )
            sample = api_url.removesuffix("/v1") + "/_sandbox/media/sample.wav"
            async with Client(build_server(settings)) as mcp:
                await _round_trip(mcp, sample, out)


async def _round_trip(mcp: Client, sample: str, out: TextIO) -> None:
    status = await _call(mcp, out, "get_drive_status", {})
    out.write(f"   drive: {status['drive_name']} (API {status['api_version']})\n")

    imported = await _call(
        mcp,
        out,
        "import_media",
        {
            "project_name": "descript-mcp demo",
            "add_media": {"interview.wav": {"url": sample}},
            "add_compositions": [{"name": "Episode", "clips": [{"media": "interview.wav"}]}],
        },
    )
    project_id = imported["project_id"]
    edited = await _call(mcp, out, "agent_edit", {"project_id": project_id, "prompt": AGENT_PROMPT})
    out.write(f"   the agent's answer: {edited.get('agent_response')}\n")
    published = await _call(
        mcp, out, "publish", {"project_id": project_id, "access_level": "unlisted"}
    )
    out.write(f"   share page: {published.get('share_url')}\n")
    (contents,) = (await mcp.read_resource("descript://jobs")).contents
    assert isinstance(contents, TextResourceContents)
    history = json.loads(contents.text)
    out.write(f"\nThe job history (descript://jobs) now holds {len(history['jobs'])} jobs:\n")
    for job in history["jobs"]:
        out.write(f"   {job['job_type']:<22} {job['state']:<8} {job['job_id']}\n")
    if not (imported["finished"] and edited["finished"] and published["finished"]):
        raise DemoError("A job did not finish in time.")
    out.write("\nRound trip complete.\n")


async def _call(mcp: Client, out: TextIO, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    out.write(f"\n> {tool} {json.dumps(arguments)}\n")

    async def show(progress: float, total: float | None, message: str | None) -> None:
        out.write(f"   progress {progress:5.1f}/{total or 100:g}  {message or ''}\n")
        out.flush()

    result: CallToolResult = await mcp.call_tool(tool, arguments, progress_callback=show)
    if result.is_error or result.structured_content is None:
        text = " ".join(getattr(block, "text", "") for block in result.content)
        raise DemoError(f"{tool} failed: {text}")
    summary: dict[str, Any] = result.structured_content
    if "summary" in summary:
        out.write(f"   {summary['summary']}\n")
    return summary
