"""descript-mcp as the MCP TypeScript client sees it, the client most hosts embed, run by Node
from the npm packages .ci/run installs ($DESCRIPT_MCP_NODE_MODULES, default .ci-node/node_modules;
without them the test is skipped unless DESCRIPT_MCP_REQUIRE_NODE is set, as CI does)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
NODE_MODULES = Path(
    os.environ.get("DESCRIPT_MCP_NODE_MODULES")
    or Path(__file__).parents[2] / ".ci-node" / "node_modules"
)


def node() -> str:
    """Node 22 with the MCP TypeScript client, or a skip (a failure where CI requires it)."""
    found = shutil.which("node")
    if found is None or not (NODE_MODULES / "@modelcontextprotocol" / "client").exists():
        missing = f"Node and @modelcontextprotocol/client in {NODE_MODULES}"
        if os.environ.get("DESCRIPT_MCP_REQUIRE_NODE"):
            pytest.fail(f"{missing} are required and missing")
        pytest.skip(f"{missing} are missing (npm install --prefix .ci-node as .ci/run does)")
    return found


def beside_the_modules(folder: Path) -> Path:
    """The script where Node resolves its imports (ES modules ignore NODE_PATH)."""
    (folder / "node_modules").symlink_to(NODE_MODULES, target_is_directory=True)
    script = folder / "typescript_stdio.mjs"
    shutil.copyfile(HERE / script.name, script)
    return script


def test_a_stdio_session_on_2026_07_28_imports_the_sample_first_time(tmp_path: Path) -> None:
    """The client asks a sibling process for the instructions, so the sample they name must
    mean the same in the process that runs the tools; and no progress notification may come
    after a call's result, which this client reports as one "for an unknown token"."""
    server = [
        sys.executable,
        "-m",
        "descript_mcp",
        "serve",
        "--sandbox",
        "fast",
        "--history",
        str(tmp_path / "history.sqlite3"),
    ]
    run = subprocess.run(
        [node(), str(beside_the_modules(tmp_path)), json.dumps(server)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["protocol"] == "2026-07-28"
    assert seen["sample"] == "sandbox:sample.wav"
    imported = seen["imported"]
    assert not imported["isError"], imported["content"]
    assert imported["structuredContent"]["outcome"] == "success"
    assert seen["published"]["structuredContent"]["outcome"] == "success"
    assert seen["progress"]  # progress was told while the jobs ran
    assert seen["errors"] == []
