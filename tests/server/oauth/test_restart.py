"""A restart in the OAuth mode loses no job: the server follows the running jobs of each
connected person to their end with the token in the vault."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from descript_mcp.sandbox import Sandbox, SandboxConfig
from descript_mcp.sandbox.config import JobTimings
from tests.server.conftest import structured
from tests.server.oauth.conftest import App, Person
from tests.waiting import eventually

pytestmark = pytest.mark.anyio


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    # Slow enough that the job outlives the first server.
    return SandboxConfig(timings=JobTimings(queued=0.1, agent_step=0.5, progress_steps=4))


def state_in(history: Path, job_id: str) -> str:
    with sqlite3.connect(history) as db:
        (state,) = db.execute("SELECT state FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
    return str(state)


async def test_a_restart_resumes_the_jobs_of_connected_people(
    host_oauth: Callable[..., Any], sandbox: Sandbox
) -> None:
    person = Person(sandbox.token)
    async with host_oauth() as hosted, httpx.AsyncClient(timeout=30) as http:
        app = App(hosted, http)
        await app.register()
        tokens = await app.tokens_for(person)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as mcp_http,
            Client(streamable_http_client(hosted.mcp_url, http_client=mcp_http)) as mcp,
        ):
            started = structured(
                await mcp.call_tool(
                    "agent_edit",
                    {"prompt": "An intro", "project_name": "Restart", "wait_seconds": 0},
                )
            )
        job_id = started["job_id"]
        history = hosted.settings.history_path
    await person.aclose()
    job = sandbox.world.jobs[job_id]
    assert not job.ended.is_set()
    assert state_in(history, job_id) in ("queued", "running")

    async with host_oauth(port=hosted.settings.port):
        await job.ended.wait()
        await eventually(  # the resumed follower's next poll records it
            lambda: state_in(history, job_id) == "stopped", "the resumed job's end recorded"
        )
