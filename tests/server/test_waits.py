"""Bounded waits say what happened: what was asked, what was allowed and why, when to look again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from mcp import Client
from pydantic import TypeAdapter

from descript_mcp.client.models import Job
from descript_mcp.sandbox import Fault, Sandbox
from descript_mcp.server.summaries import LATEST_CHECK, SOONEST_CHECK, next_check_after
from tests.server.conftest import import_sample, structured

pytestmark = pytest.mark.anyio

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _job(job_type: str = "publish", percent: float | None = None, after: float = 0.0) -> Job:
    progress = None
    if percent is not None:
        progress = {
            "label": "Rendering",
            "percent": percent,
            "last_update_at": START + timedelta(seconds=after),
        }
    return TypeAdapter(Job).validate_python(
        {
            "job_id": "publish-1",
            "job_type": job_type,
            "job_state": "running",
            "created_at": START,
            "drive_id": "d",
            "progress": progress,
        }
    )


def test_the_next_check_follows_the_jobs_own_pace() -> None:
    assert next_check_after(_job(percent=25, after=10)) == 30.0  # 10 s for a quarter: 30 s left
    assert next_check_after(_job(percent=90, after=90)) == 10.0
    assert next_check_after(_job(percent=1, after=100)) == LATEST_CHECK
    assert next_check_after(_job(percent=99, after=1)) == SOONEST_CHECK
    # No pace to go by: what is typical for the kind.
    assert next_check_after(_job()) == 60.0
    assert next_check_after(_job("export/timeline")) == 15.0


async def test_an_unfinished_wait_says_what_was_asked_and_when_to_look_again(
    make_server, sandbox: Sandbox
) -> None:
    async with Client(make_server()) as mcp:
        project = await import_sample(mcp)
        # A job that runs until it is cancelled.
        sandbox.faults.add(Fault("POST", "/jobs/publish", kind="stuck", when="after"))
        started = structured(
            await mcp.call_tool("publish", {"project_id": project["project_id"], "wait_seconds": 0})
        )
        assert (started["wait_requested"], started["wait_applied"]) == (0, 0)
        assert "wait_capped" not in started
        assert SOONEST_CHECK <= started["next_check_after_s"] <= LATEST_CHECK
        done = structured(await mcp.call_tool("get_job", {"job_id": started["job_id"]}))
        assert done["finished"] is False
        assert done["wait_requested"] == 0  # get_job's default: a look, not a wait
        await mcp.call_tool("cancel_job", {"job_id": started["job_id"]})
        finished = structured(
            await mcp.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 60})
        )
    assert finished["finished"] is True
    assert finished["wait_requested"] == 60
    assert "next_check_after_s" not in finished


async def test_a_wait_beyond_the_servers_longest_is_cut_and_says_why(
    make_server, sandbox: Sandbox
) -> None:
    async with Client(make_server()) as mcp:
        project = await import_sample(mcp)
    sandbox.config.timings.publish = 30.0
    async with Client(make_server(max_wait_seconds=0.2)) as mcp:
        started = structured(
            await mcp.call_tool(
                "publish", {"project_id": project["project_id"], "wait_seconds": 120}
            )
        )
    assert started["finished"] is False
    assert (started["wait_requested"], started["wait_applied"]) == (120, 0.2)
    assert started["wait_capped"].startswith("0.2 s is the longest this server waits in one call")
    assert started["next_check_after_s"] >= SOONEST_CHECK
