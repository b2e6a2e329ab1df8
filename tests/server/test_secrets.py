"""A recognisable token never shows up anywhere (logs, tool results, resources, the history
file, error text), and the signatures of signed URLs never show up in logs."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from bench._sandbox import free_port
from descript_mcp import DescriptClient
from descript_mcp.client.ledger import SubmissionLedger
from descript_mcp.sandbox import Sandbox, SandboxConfig
from descript_mcp.sandbox.media import synthesize_wav
from descript_mcp.server import build_server
from descript_mcp.server.tools import build_tools
from descript_mcp.settings import Settings
from tests.conftest import ASGI_BASE, FAST_POLL
from tests.server.conftest import ERAS, SAMPLE
from tests.waiting import serving

pytestmark = pytest.mark.anyio

TOKEN = "zz-secret-token-0042"
WRONG = "zz-wrong-token-0043"
UNREDACTED_SIGNATURE = re.compile(r"signature=(?!REDACTED)[0-9a-f]+")


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    config = SandboxConfig.for_tests()
    config.drives[0].tokens = (TOKEN,)
    return config


async def _exercise(mcp: Client, media: Path, called: set[str]) -> list[str]:
    """Every tool and resource, happy and failing; returns every text the client saw, and
    adds the name of each tool called to `called`."""
    seen: list[str] = []

    async def call(tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        called.add(tool)
        result = await mcp.call_tool(tool, arguments)
        seen.extend(getattr(block, "text", "") for block in result.content)
        seen.append(str(result.structured_content))
        return result.structured_content or {}

    imported = await call(
        "import_media",
        {
            "project_name": "Secret",
            "add_media": {
                "web.wav": {"url": SAMPLE + "?token=abc&signature=0123abcd"},
                "disk.wav": {"path": str(media / "talk.wav")},
            },
            "add_compositions": [{"clips": [{"media": "disk.wav"}]}],
        },
    )
    project = imported["project_id"]
    await call("agent_edit", {"project_id": project, "prompt": "Add captions"})
    published = await call("publish", {"project_id": project})
    exported = await call("export_timeline", {"project_id": project, "format": "edl"})
    for tool, arguments in [
        ("save_file", {"job_id": exported["job_id"], "path": str(media / "cut.edl")}),
        ("import_drive_media", {"add_media": {"lib.wav": {"path": str(media / "talk.wav")}}}),
        ("save_file", {"job_id": published["job_id"], "path": str(media / "out.wav")}),
        ("save_file", {"project_id": project, "format": "txt", "path": str(media / "t.txt")}),
        ("get_published_page", {"share_url": published["share_url"]}),
        ("get_job", {"job_id": published["job_id"]}),
        ("list_jobs", {}),
        ("cancel_job", {"job_id": published["job_id"]}),
        ("list_projects", {}),
        ("get_project", {"project_id": project}),
        ("get_drive_status", {}),
        ("list_agent_models", {}),
        ("export_transcript", {"project_id": project}),
        ("search_drive", {"query": "secret"}),
        ("get_job", {"job_id": "nope"}),
        ("get_project", {"project_id": "bad"}),
        ("import_media", {"add_media": {"x.wav": {"path": "/etc/passwd"}}}),
        ("import_media", {"project_name": "Sent", "add_media": {"s.wav": {"file_size": 10}}}),
        ("start_upload", {"files": [{"name": "p.wav", "file_size": 10}]}),
        ("upload_media", {"project_name": "Picked"}),
    ]:
        await call(tool, arguments)
    for uri in (
        "descript://jobs",
        f"descript://jobs/{published['job_id']}",
        f"descript://projects/{project}",
    ):
        seen.extend(getattr(c, "text", "") for c in (await mcp.read_resource(uri)).contents)
    return seen


@pytest.mark.parametrize("mode", ERAS)
async def test_no_token_or_signature_anywhere(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: str
) -> None:
    caplog.set_level(logging.DEBUG)
    media = tmp_path / "media"
    media.mkdir()
    (media / "talk.wav").write_bytes(synthesize_wav(2.0))
    history = tmp_path / "history.sqlite3"

    def factory(token: str, *, ledger: SubmissionLedger) -> DescriptClient:
        return DescriptClient(
            token,
            ledger=ledger,
            base_url=f"{ASGI_BASE}/v1",
            transport=httpx.ASGITransport(app=sandbox.app),
        )

    texts: list[str] = []
    called: set[str] = set()
    for token in (TOKEN, WRONG):
        settings = Settings(
            api_key=token,
            api_url=f"{ASGI_BASE}/v1",
            history_path=history,
            roots=(media,),
            toolsets=("all",),
        )
        async with Client(
            build_server(settings, client_factory=factory, poll_schedule=FAST_POLL), mode=mode
        ) as mcp:
            texts += (
                await _exercise(mcp, media, called)
                if token == TOKEN
                else [str((await mcp.call_tool("list_projects", {})).content)]
            )
    # Every tool of every toolset was called: a new tool is searched too, or this fails.
    assert called == {t.name for t in build_tools(Settings(toolsets=("all",))).offered}
    everything = "\n".join([*texts, caplog.text, history.read_bytes().decode("latin-1")])
    assert "Descript rejected the API token (401" in everything  # the failing path ran
    assert "signature=" in caplog.text  # signed URLs were logged, redacted
    for secret in (TOKEN, WRONG, "0123abcd"):  # the last: a signature in a media URL asked for
        assert secret not in everything
    # Signed upload and download URLs are logged without their signatures. (A publish's
    # download_url is the answer the user asked for, so results do carry it.)
    assert not UNREDACTED_SIGNATURE.search(caplog.text)


def test_a_debug_logging_server_process_keeps_them_out_of_its_logs(tmp_path: Path) -> None:
    """The stdio server at debug level against a sandbox process: stderr carries its logs,
    and neither the token nor a signature is in them."""
    port = free_port()
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "descript_mcp",
            "sandbox",
            "--fast",
            "--port",
            str(port),
            "--token",
            TOKEN,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    script = f"""
import anyio
from mcp import Client, StdioServerParameters
async def main():
    params = StdioServerParameters(command={sys.executable!r}, args=[
        "-m", "descript_mcp", "--log-level", "debug", "serve",
        "--api-url", "http://127.0.0.1:{port}/v1", "--history", {str(tmp_path / "h.sqlite3")!r},
        "--root", {str(tmp_path)!r}], env={{"DESCRIPT_API_KEY": {TOKEN!r}}})
    async with Client(params, mode="legacy") as mcp:
        result = await mcp.call_tool("import_media", {{"project_name": "p", "add_media": {{
            "a.wav": {{"url": "http://127.0.0.1:{port}/_sandbox/media/sample.wav"}},
            "b.wav": {{"path": {str(tmp_path / "b.wav")!r}}}}}}})
        assert not result.is_error, result.content
anyio.run(main)
"""
    (tmp_path / "b.wav").write_bytes(synthesize_wav(1.0))
    try:
        serving(port, sandbox)
        run = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "DEBUG" in run.stderr
    assert "signature=REDACTED" in run.stderr  # the upload's signed URL was logged, redacted
    assert TOKEN not in run.stderr
    assert not UNREDACTED_SIGNATURE.search(run.stderr)
