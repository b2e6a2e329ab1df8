"""The `descript-mcp` command, run as a user runs it."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import httpx

from bench._sandbox import free_port
from descript_mcp import __version__
from descript_mcp.sandbox import DEFAULT_TOKEN
from tests.waiting import serving

COMMAND = [sys.executable, "-m", "descript_mcp"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_version() -> None:
    assert _run("--version").stdout.strip() == f"descript-mcp {__version__}"


def test_demo_runs_the_round_trip_through_the_mcp_tools() -> None:
    result = _run("demo", "--fast")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for line in (
        "> import_media ",
        "> agent_edit ",
        "> publish ",
        "Import finished: 1 of 1 media imported",
        "Agent edit finished and changed the project",
        "Published as Audio",
        "share page: http://127.0.0.1:",
        "The job history (descript://jobs) now holds 3 jobs",
        "Round trip complete.",
    ):
        assert line in out
    assert "progress" in out  # progress notifications were printed while jobs ran
    assert "finished: success" not in out  # a job's end is told by the result alone


def test_sandbox_command_serves_the_api_and_its_sample() -> None:
    port = free_port()
    server = subprocess.Popen(
        [*COMMAND, "sandbox", "--port", str(port), "--token", "my-token"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    origin = f"http://127.0.0.1:{port}"
    try:
        serving(port, server)
        status = httpx.get(f"{origin}/v1/status", headers={"Authorization": "Bearer my-token"})
        assert status.json()["drive_name"] == "Sandbox Drive"
        refused = httpx.get(
            f"{origin}/v1/status", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        )
        assert refused.status_code == 401  # --token replaced the default
        sample = httpx.get(f"{origin}/_sandbox/media/sample.wav")
        assert sample.content.startswith(b"RIFF")
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_serve_refuses_a_bad_setting_with_its_name() -> None:
    result = _run("serve", env={"DESCRIPT_MCP_PORT": "not-a-port"})
    assert result.returncode == 2
    assert "DESCRIPT_MCP_PORT" in result.stderr


def test_each_serve_flag_sets_the_setting_of_its_name() -> None:
    """serve passes its flags to the settings by name: a flag named otherwise would be lost."""
    from descript_mcp.cli.main import _parser
    from descript_mcp.settings import Settings

    serve = next(
        action.choices["serve"]
        for action in _parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    flags = {action.dest for action in serve._actions} - {"help", "sandbox", "run"}
    assert flags <= set(Settings.model_fields), flags - set(Settings.model_fields)
    result = _run("serve", "--max-save-mb", "0")
    assert result.returncode == 2
    assert "max_save_mb (DESCRIPT_MCP_MAX_SAVE_MB)" in result.stderr
