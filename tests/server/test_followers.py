"""A job's follower outlives what passes: the history unreachable while the job ends (retried
as a Descript 5xx is, the end recorded once), and an error of its own (it starts over; a call
that waits on it is never told an internal exception's name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.server import MCPServer

from descript_mcp.client.models import Job
from descript_mcp.errors import HistoryUnavailableError
from descript_mcp.history.database import Notification
from descript_mcp.history.jobs import JobStore
from descript_mcp.sandbox import Sandbox
from descript_mcp.server import tracker
from tests.server.conftest import SAMPLE, error_text, import_sample, read_json, structured

pytestmark = pytest.mark.anyio


async def test_a_job_that_ends_while_the_history_is_unreachable_is_recorded_once_it_is_back(
    make_server: Callable[..., MCPServer[Any]],
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracker, "RETRY_FIRST", 0.01)
    record_job = JobStore.record_job
    refused: list[str] = []

    async def unreachable_at_first(
        self: JobStore, owner: str, job: Job, announce: Notification | None = None
    ) -> bool:
        if job.is_terminal and len(refused) < 3:
            refused.append(job.job_state)
            raise HistoryUnavailableError("The job history's database could not be reached.")
        return await record_job(self, owner, job, announce)

    monkeypatch.setattr(JobStore, "record_job", unreachable_at_first)
    async with (
        Client(make_server(), mode="auto") as mcp,
        mcp.listen(resource_subscriptions=["descript://jobs"]) as changes,
    ):
        started = await import_sample(mcp, wait_seconds=0)
        waited = structured(
            await mcp.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 10})
        )
        assert waited["state"] == "stopped"  # as Descript said; the history catches up
        uri = f"descript://jobs/{started['job_id']}"
        with anyio.fail_after(10):
            async for _change in changes:  # each change is told once recorded
                if (record := await read_json(mcp, uri))["state"] == "stopped":
                    break
    assert refused == ["stopped"] * 3  # the end, refused three times, then recorded
    assert [event["state"] for event in record["events"]].count("stopped") == 1


async def test_a_follower_that_fails_starts_over_and_never_names_its_error(
    make_server: Callable[..., MCPServer[Any]],
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracker, "RETRY_FIRST", 0.01)
    poll = tracker.JobTracker._poll
    failures: list[str] = []
    always: list[bool] = []

    async def failing(self: tracker.JobTracker, followed: Any, client: Any) -> None:
        if len(failures) < 2 or always:
            failures.append(followed.job_id)
            raise ExceptionGroup("a task group failed", [RuntimeError("a bug of its own")])
        await poll(self, followed, client)

    monkeypatch.setattr(tracker.JobTracker, "_poll", failing)
    async with Client(make_server(), mode="auto") as mcp:
        recovered = await import_sample(mcp, "Recovered", wait_seconds=10)
        assert recovered["state"] == "stopped"  # after two failures, started over
        assert failures == [recovered["job_id"]] * 2
        always.append(True)
        text = error_text(
            await mcp.call_tool(
                "import_media",
                {"project_name": "Broken", "add_media": {"a.wav": {"url": SAMPLE}}},
            )
        )
    assert "call get_job again" in text
    for internal in ("ExceptionGroup", "RuntimeError", "a bug of its own"):
        assert internal not in text
