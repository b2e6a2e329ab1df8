"""A server killed with SIGKILL while a job runs loses nothing: on start it follows the job to
its end, records how it ended, and tells subscribers."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ResourceUpdatedNotification

from bench._sandbox import free_port
from descript_mcp.sandbox import DEFAULT_TOKEN
from tests.server.conftest import structured
from tests.waiting import serving

pytestmark = pytest.mark.anyio


@contextmanager
def _process(
    *args: str, port: int, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "descript_mcp", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        serving(port, process)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


@asynccontextmanager
async def _client(port: int, **options: Any) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http,
        Client(
            streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http),
            mode="legacy",
            **options,
        ) as mcp,
    ):
        yield mcp


async def test_a_killed_server_resumes_its_unfinished_jobs(tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite3"
    sandbox_port, server_port = free_port(), free_port()
    serve = [
        "serve",
        "--transport",
        "http",
        "--port",
        str(server_port),
        "--history",
        str(history),
        "--api-url",
        f"http://127.0.0.1:{sandbox_port}/v1",
    ]
    env = {"DESCRIPT_API_KEY": DEFAULT_TOKEN}
    sample = f"http://127.0.0.1:{sandbox_port}/_sandbox/media/sample.wav"
    # Realistic timings: the import takes a few seconds, long enough to kill the server.
    with _process("sandbox", "--port", str(sandbox_port), port=sandbox_port):
        with _process(*serve, port=server_port, env=env) as first:
            async with _client(server_port) as mcp:
                started = structured(
                    await mcp.call_tool(
                        "import_media",
                        {
                            "project_name": "Interrupted",
                            "wait_seconds": 0,
                            "add_media": {"sample.wav": {"url": sample}},
                        },
                    )
                )
            first.kill()  # SIGKILL: no shutdown code runs
        job_id = started["job_id"]
        assert started["finished"] is False

        with sqlite3.connect(history) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            (state,) = db.execute("SELECT state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        assert state in ("queued", "running")

        changes = [anyio.Event()]

        async def on_message(message: Any) -> None:
            if isinstance(message, ResourceUpdatedNotification) and message.params.uri.endswith(
                job_id
            ):
                changes[-1].set()

        # Nobody asks about the job after the restart: the server resumes following it by
        # itself. Subscribed first, then read: an end before the subscription is in the record,
        # one after it is heard.
        with _process(*serve, port=server_port, env=env):
            async with _client(server_port, message_handler=on_message) as mcp:
                uri = f"descript://jobs/{job_id}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await mcp.subscribe_resource(uri)
                with anyio.fail_after(30):
                    while True:
                        changed = changes[-1]
                        contents = (await mcp.read_resource(uri)).contents
                        record = json.loads(contents[0].text)  # type: ignore[union-attr]
                        if record["state"] == "stopped":
                            break
                        await changed.wait()
                        changes.append(anyio.Event())
    assert record["result"]["status"] == "success"
    assert record["request"]["project_name"] == "Interrupted"
