"""An MCP server over the sandbox, and SDK clients talking to it in memory, in both eras."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult

from descript_mcp import DescriptClient, RetryPolicy
from descript_mcp.client.ledger import SubmissionLedger
from descript_mcp.client.waiter import PollSchedule
from descript_mcp.sandbox import Sandbox
from descript_mcp.server import build_server
from descript_mcp.settings import Settings
from tests.conftest import ASGI_BASE, FAST_POLL

API = f"{ASGI_BASE}/v1"
SAMPLE = f"{ASGI_BASE}/_sandbox/media/sample.wav"
# Retry-After beyond a second is handed back, so rate-limit tests do not sleep.
SERVER_RETRIES = RetryPolicy(
    backoff_initial=0.001, backoff_max=0.01, max_retry_after=1, recovery_delays=(0.0,)
)


@pytest.fixture
def settings(tmp_path: Path, sandbox: Sandbox) -> Settings:
    return Settings(
        api_key=sandbox.token,
        api_url=API,
        history_path=tmp_path / "history.sqlite3",
        wait_seconds=10,
    )


@pytest.fixture
def make_server(sandbox: Sandbox, settings: Settings) -> Callable[..., MCPServer[Any]]:
    def factory(token: str, *, ledger: SubmissionLedger) -> DescriptClient:
        return DescriptClient(
            token,
            ledger=ledger,
            base_url=API,
            transport=httpx.ASGITransport(app=sandbox.app),
            retry=SERVER_RETRIES,
        )

    def make(schedule: PollSchedule = FAST_POLL, **changes: Any) -> MCPServer[Any]:
        changed = Settings.model_validate(settings.model_dump() | changes)
        return build_server(changed, client_factory=factory, poll_schedule=schedule)

    return make


# legacy: protocol 2025-11-25 (initialize, sessions); auto: 2026-07-28.
ERAS = ("legacy", "auto")


@pytest.fixture
def mode() -> str:
    """The protocol era of a test's client: 2026-07-28. Tests of what differs between the eras
    (sessions, subscriptions, the tool list) run in both: `@pytest.mark.parametrize("mode",
    ERAS)`."""
    return "auto"


@pytest.fixture
async def mcp(make_server: Callable[..., MCPServer[Any]], mode: str) -> AsyncIterator[Client]:
    async with Client(make_server(), mode=mode) as client:
        yield client


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(getattr(block, "text", "") for block in result.content)


async def import_sample(mcp: Client, name: str = "Episode", **arguments: Any) -> dict[str, Any]:
    result = await mcp.call_tool(
        "import_media",
        {
            "project_name": name,
            "add_media": {"sample.wav": {"url": SAMPLE}},
            "add_compositions": [{"name": "Main", "clips": [{"media": "sample.wav"}]}],
            **arguments,
        },
    )
    return structured(result)


async def read_json(mcp: Client, uri: str) -> Any:
    contents = (await mcp.read_resource(uri)).contents
    return json.loads(contents[0].text)  # type: ignore[union-attr]
