"""The Descript commands of the command line, run as a user runs them, against a sandbox."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench._sandbox import free_port
from descript_mcp.sandbox import DEFAULT_TOKEN
from descript_mcp.sandbox.media import synthesize_wav
from tests.waiting import serving


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "descript_mcp", "sandbox", "--fast", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/v1"
    serving(port, server)
    yield url
    server.terminate()
    server.wait(timeout=10)


def run(
    api: str, *args: str, token: str | None = DEFAULT_TOKEN, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DESCRIPT")}
    environ |= {"DESCRIPT_API_URL": api, "DESCRIPT_MCP_CONFIG": "/nonexistent/config.json"}
    if token:
        environ["DESCRIPT_API_KEY"] = token
    return subprocess.run(
        [sys.executable, "-m", "descript_mcp", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environ | (env or {}),
        check=False,
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_status(api: str) -> None:
    result = run(api, "status", "--json")
    assert result.returncode == 0
    assert as_json(result)["drive_name"] == "Sandbox Drive"
    assert run(api, "status").stdout.startswith("Drive Sandbox Drive (")


def test_import_agent_publish_and_jobs(api: str, tmp_path: Path) -> None:
    local = tmp_path / "intro.wav"
    local.write_bytes(synthesize_wav(3.0))
    sample = api.removesuffix("/v1") + "/_sandbox/media/sample.wav"
    imported = as_json(
        run(
            api,
            "import",
            sample,
            str(local),
            "--project-name",
            "CLI",
            "--composition",
            "Main",
            "--json",
        )
    )
    assert imported["outcome"] == "success"
    assert {m["name"]: m["duration_seconds"] for m in imported["media"]} == {
        "sample.wav": 12.0,
        "intro.wav": 3.0,
    }
    project = imported["project_id"]

    edited = run(api, "agent", "Remove filler words", "--project-id", project)
    assert edited.returncode == 0, edited.stderr
    assert "Agent edit finished" in edited.stdout

    target = tmp_path / "out" / "episode.wav"
    target.parent.mkdir()
    published = as_json(run(api, "publish", project, "--download-to", str(target), "--json"))
    assert published["saved_bytes"] == target.stat().st_size > 0
    again = run(api, "publish", project, "--download-to", str(target))
    assert again.returncode == 2
    assert "--overwrite" in again.stderr

    listed = as_json(run(api, "jobs", "list", "--project-id", project, "--json"))
    assert [job["job_type"] for job in listed] == ["publish", "agent", "import/project_media"]
    shown = run(api, "jobs", "show", listed[0]["job_id"])
    assert shown.returncode == 0
    assert "Published as Audio" in shown.stdout
    waited = as_json(run(api, "jobs", "wait", listed[1]["job_id"], "--json"))
    assert waited["outcome"] == "success"


def test_exit_codes_tell_failed_jobs_usage_and_api_errors_apart(api: str) -> None:
    empty = as_json(
        run(
            api,
            "import",
            "--project-name",
            "Empty",
            "--json",
            api.removesuffix("/v1") + "/_sandbox/media/sample.wav?ranges=0",
        )
    )
    assert empty["outcome"] == "error"
    failed = run(api, "agent", "Add captions", "--project-id", empty["project_id"])
    assert failed.returncode == 1  # the job ran and failed
    assert run(api, "jobs", "show").returncode == 2  # no job id
    assert run(api, "import").returncode == 2  # argparse: missing arguments
    assert run(api, "import", "/no/such/file.wav", "--project-name", "x").returncode == 2
    refused = run(api, "status", token="wrong-token")
    assert refused.returncode == 3
    assert "401" in refused.stderr
    assert run(api, "status", token=None).returncode == 2  # no token configured


def test_config_stores_the_token_for_the_user_only(api: str, tmp_path: Path) -> None:
    config = tmp_path / "conf" / "config.json"
    saved = run(
        api,
        "config",
        "set",
        "api-key",
        DEFAULT_TOKEN,
        token=None,
        env={"DESCRIPT_MCP_CONFIG": str(config)},
    )
    assert saved.returncode == 0
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert DEFAULT_TOKEN not in saved.stderr + saved.stdout
    status = run(api, "status", "--json", token=None, env={"DESCRIPT_MCP_CONFIG": str(config)})
    assert as_json(status)["drive_name"] == "Sandbox Drive"


def test_doctor_says_what_to_fix(api: str, tmp_path: Path) -> None:
    history = {"DESCRIPT_MCP_HISTORY": str(tmp_path / "h.sqlite3")}
    good = run(api, "doctor", env=history)
    assert good.returncode == 0, good.stderr
    assert "all good" in good.stderr
    bad = run(
        api,
        "doctor",
        token="wrong-token",
        env=history | {"DESCRIPT_MCP_ROOTS": str(tmp_path / "missing")},
    )
    assert bad.returncode == 1
    assert "2 problem(s)" in bad.stderr
    assert "fix DESCRIPT_MCP_ROOTS" in bad.stderr
