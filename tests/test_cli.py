"""The `descript-mcp` command, run as a user runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from descript_mcp import __version__
from descript_mcp.sandbox import DEFAULT_TOKEN

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


def test_demo_runs_the_round_trip_on_the_built_in_sandbox() -> None:
    result = _run("demo", "--fast")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for line in (
        "1. Import started",
        "2. Agent edit started",
        "3. Publish started",
        "interview.wav: success, 12.0 s",
        "intro.wav: success, 3.0 s",
        "Round trip complete.",
    ):
        assert line in out
    assert "running" in out  # progress lines were printed while jobs ran
    assert "share page: http://127.0.0.1:" in out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sandbox_command_serves_the_api_that_the_demo_can_use() -> None:
    port = _free_port()
    server = subprocess.Popen(
        [*COMMAND, "sandbox", "--port", str(port), "--fast"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    api = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = httpx.get(
                    f"{api}/status", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}
                )
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "the sandbox did not start"
                time.sleep(0.1)
        assert status.json()["drive_name"] == "Sandbox Drive"
        media = f"http://127.0.0.1:{port}/_sandbox/media/sample.wav"
        demo = _run(
            "demo", "--api-url", api, "--media-url", media, env={"DESCRIPT_API_KEY": DEFAULT_TOKEN}
        )
        assert demo.returncode == 0, demo.stderr
        assert "Round trip complete." in demo.stdout
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_demo_failures_exit_non_zero_with_a_message() -> None:
    result = _run("demo", "--api-url", "http://127.0.0.1:9/v1")
    assert result.returncode == 1
    assert "--media-url" in result.stderr
    refused = _run(
        "demo",
        "--api-url",
        "http://127.0.0.1:9/v1",
        "--media-url",
        "http://x/a.wav",
        env={"DESCRIPT_API_KEY": "secret-token-4711"},
    )
    assert refused.returncode == 1
    assert "Descript could not be reached" in refused.stderr
    assert "secret-token-4711" not in refused.stderr + refused.stdout
