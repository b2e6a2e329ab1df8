"""The job tools through an MCP client: import, agent edit, publish, get/list/cancel jobs."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from typing import Any

import anyio
import pytest
from mcp import Client

from descript_mcp.client.waiter import PollSchedule
from descript_mcp.sandbox import Fault, Sandbox
from descript_mcp.server import followed
from tests.server.conftest import SAMPLE, error_text, import_sample, read_json, structured

pytestmark = pytest.mark.anyio


async def test_import_reports_progress_and_summarises_the_result(
    mcp: Client, sandbox: Sandbox
) -> None:
    # Long enough an item that a poll sees it being imported, however busy the machine.
    sandbox.config.timings = replace(sandbox.config.timings, import_item=1.0)
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    result = await mcp.call_tool(
        "import_media",
        {
            "project_name": "Progress",
            "add_media": {"sample.wav": {"url": SAMPLE, "language": "en"}},
            "add_compositions": [{"name": "Main", "clips": [{"media": "sample.wav"}]}],
        },
        progress_callback=on_progress,
    )
    summary = structured(result)
    assert summary["finished"] is True
    assert summary["outcome"] == "success"
    assert summary["media"] == [
        {"name": "sample.wav", "status": "success", "duration_seconds": 12.0}
    ]
    assert summary["created_compositions"] == ["Main"]
    assert summary["summary"].startswith("Import finished: 1 of 1 media imported")
    progress = [p for p, _, _ in seen]
    assert progress == sorted(set(progress))  # strictly increasing, as the spec requires
    assert progress[-1] < 100  # the end is told by the result, never by a last notification
    assert any("Importing media: sample.wav" in (m or "") for _, _, m in seen)


async def test_failed_media_items_are_named_with_the_reason(mcp: Client) -> None:
    summary = await import_sample(
        mcp, add_media={"sample.wav": {"url": SAMPLE}, "broken.wav": {"url": SAMPLE + "?ranges=0"}}
    )
    assert summary["outcome"] == "partial"
    assert "1 of 2 media imported; 1 failed" in summary["summary"]
    (broken,) = [m for m in summary["media"] if m["status"] == "failed"]
    assert broken["name"] == "broken.wav"
    assert broken["error"].startswith("Media URL is not accessible")


async def test_agent_edit_returns_the_agents_answer_and_credits(mcp: Client) -> None:
    project = await import_sample(mcp)
    summary = structured(
        await mcp.call_tool(
            "agent_edit",
            {
                "project_id": project["project_id"],
                "prompt": "Remove filler words",
                "model": "claude-haiku-5.5",
            },
        )
    )
    assert summary["outcome"] == "success"
    assert summary["project_changed"] is True
    assert summary["resolved_model"] == "claude-haiku-5.5"
    assert summary["ai_credits_used"] > 0
    assert "removed" in summary["agent_response"]
    assert "AI credits" in summary["summary"]


async def test_agent_edit_can_create_a_project_from_a_prompt(mcp: Client) -> None:
    summary = structured(
        await mcp.call_tool(
            "agent_edit", {"project_name": "Teaser", "prompt": "Make a 15 second teaser"}
        )
    )
    assert summary["outcome"] == "success"
    project = structured(await mcp.call_tool("get_project", {"project_id": summary["project_id"]}))
    assert project["name"] == "Teaser"


async def test_publish_leaves_the_access_level_to_the_drive_unless_asked_and_gives_links(
    mcp: Client, sandbox: Sandbox
) -> None:
    project = await import_sample(mcp)
    summary = structured(await mcp.call_tool("publish", {"project_id": project["project_id"]}))
    assert summary["outcome"] == "success"
    assert summary["media_type"] == "Audio"
    assert "the share page is share_url" in summary["summary"]
    assert summary["download_url"]
    assert summary["download_url_expires_at"]
    ((_, record),) = sandbox.world.publishes.values()
    drive_setting = sandbox.config.drives[0].default_access_level
    assert record.access_level == drive_setting == "unlisted"  # never changed behind its back
    asked = {"project_id": project["project_id"], "access_level": "private"}
    assert structured(await mcp.call_tool("publish", asked))["outcome"] == "success"
    ((_, record),) = sandbox.world.publishes.values()
    assert record.access_level == "private"


async def test_a_short_wait_returns_the_job_id_and_get_job_finishes_it(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.config.timings.import_item = 0.6
    first = await import_sample(mcp, wait_seconds=0.05)
    assert first["finished"] is False
    assert first["outcome"] == "running"
    assert f'get_job with job_id "{first["job_id"]}"' in first["summary"]
    assert "Do not start it again" in first["summary"]
    done = structured(
        await mcp.call_tool("get_job", {"job_id": first["job_id"], "wait_seconds": 10})
    )
    assert done["finished"] is True
    assert done["outcome"] == "success"
    assert len(sandbox.api_requests("POST", "/jobs/import")) == 1


async def test_get_job_without_a_wait_answers_at_once(mcp: Client, sandbox: Sandbox) -> None:
    sandbox.config.timings.import_item = 30.0
    started = await import_sample(mcp, wait_seconds=0)
    with anyio.fail_after(5):
        status = structured(await mcp.call_tool("get_job", {"job_id": started["job_id"]}))
    assert status["state"] in ("queued", "running")


async def test_cancelling_the_call_keeps_the_job_and_its_history(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.config.timings.import_item = 30.0
    with anyio.move_on_after(0.5):
        await import_sample(mcp, name="Abandoned")
    (job_id,) = sandbox.world.jobs
    assert sandbox.world.jobs[job_id].state in ("queued", "running")  # Descript's job goes on
    history = await read_json(mcp, "descript://jobs")
    assert [job["job_id"] for job in history["jobs"]] == [job_id]
    assert history["jobs"][0]["request"]["project_name"] == "Abandoned"


async def test_list_jobs_pages_and_cancel_job_cancels(mcp: Client, sandbox: Sandbox) -> None:
    first = await import_sample(mcp, name="One")
    second = await import_sample(mcp, name="Two")
    page = structured(await mcp.call_tool("list_jobs", {"limit": 1}))
    assert [job["job_id"] for job in page["jobs"]] == [second["job_id"]]
    rest = structured(await mcp.call_tool("list_jobs", {"limit": 1, "cursor": page["next_cursor"]}))
    assert [job["job_id"] for job in rest["jobs"]] == [first["job_id"]]

    sandbox.config.timings.import_item = 30.0
    running = await import_sample(mcp, name="Three", wait_seconds=0)
    cancelled = structured(await mcp.call_tool("cancel_job", {"job_id": running["job_id"]}))
    assert cancelled["state"] == "cancelled"
    assert cancelled["outcome"] == "cancelled"


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (
            "get_job",
            {"job_id": "project-media-import-none"},
            'Not found (404): “No job found for job_id "project-media-import-none"”.',
        ),
        (
            "agent_edit",
            {"project_id": "9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb", "prompt": "Edit"},
            "Not found (404): “Project not found”.",
        ),
        (
            "import_media",
            {"add_media": {"a.wav": {"url": SAMPLE, "tracks": [{"media": "x"}]}}},
            "give exactly one of url, path, tracks or file_size",
        ),
        (
            "import_media",
            {
                "add_media": {"a.wav": {"url": SAMPLE}},
                "add_compositions": [{"clips": [{"media": "nope.wav"}]}],
            },
            'Descript rejected the request (400), saying “"add_compositions[0].clips[0].media" '
            'refers to unknown media "nope.wav"”',
        ),
        (
            "agent_edit",
            {"prompt": "Edit"},
            "give exactly one of project_id (edit a project) or project_name (new project)",
        ),
    ],
)
async def test_bad_requests_get_errors_that_say_what_to_do(
    mcp: Client, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    assert expected in error_text(await mcp.call_tool(tool, arguments))


async def test_a_follower_that_fails_unexpectedly_does_not_end_the_session(
    mcp: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follower runs in the server's own task group: an error there (here the history file
    locked by another process) ends that follower only; the next get_job reads the job again."""
    from descript_mcp.history.jobs import JobStore

    record_job = JobStore.record_job
    failures = iter([sqlite3.OperationalError("database is locked")])
    failed = anyio.Event()

    async def locked_once(self: JobStore, owner: str, job: Any, announce: Any = None) -> bool:
        if job.job_state != "queued" and (failure := next(failures, None)) is not None:
            failed.set()
            raise failure
        return await record_job(self, owner, job, announce)

    monkeypatch.setattr(JobStore, "record_job", locked_once)
    started = await import_sample(mcp, wait_seconds=0)
    with anyio.fail_after(10):
        await failed.wait()
    assert not (await mcp.call_tool("get_drive_status", {})).is_error
    summary = structured(
        await mcp.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 10})
    )
    assert summary["finished"] is True


async def test_a_call_cancelled_while_its_job_is_submitted_still_records_the_job(
    mcp: Client, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client gives up while the POST is in flight: Descript accepts the job a moment
    later, and the history has it, so it is never submitted (and paid for) twice."""
    from descript_mcp.history.jobs import JobStore

    record_submitted = JobStore.record_submitted
    recorded = anyio.Event()

    async def noted(self: JobStore, *args: Any, **kwargs: Any) -> None:
        await record_submitted(self, *args, **kwargs)
        recorded.set()

    monkeypatch.setattr(JobStore, "record_submitted", noted)
    slow = sandbox.faults.add(
        Fault("POST", "/jobs/import/project_media", kind="latency", when="before", holds=True)
    )
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: import_sample(mcp, name="Slow to answer"))
        with anyio.fail_after(10):
            await slow.fired()  # the POST is in flight: the call is cancelled now
        group.cancel_scope.cancel()
        slow.release()  # the cancelled call still waits for Descript's answer: here it comes
    with anyio.fail_after(10):
        await recorded.wait()  # the POST ends, and the recording with it
    history = await read_json(mcp, "descript://jobs")
    (job_id,) = sandbox.world.jobs
    assert [job["job_id"] for job in history["jobs"]] == [job_id]


async def test_a_waiter_gets_a_fresh_reading_of_a_rarely_polled_job(
    make_server, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With callbacks on, a job is polled only every few minutes in case its callback is lost:
    a get_job call then asks for a fresh reading instead of reporting an old one. (Any reading
    counts as old here, rather than one over 2 s: the test need not wait for it to age.)"""
    monkeypatch.setattr(followed, "FRESH_FOR", 0.0)
    sandbox.config.timings.import_item = 0.5
    rarely = PollSchedule(initial=300, factor=1, maximum=300, steady_for=0)
    async with Client(make_server(schedule=rarely)) as mcp:
        started = await import_sample(mcp, wait_seconds=0)
        assert started["finished"] is False
        with anyio.fail_after(10):  # the job ends; the follower's next poll is minutes away
            await sandbox.world.jobs[started["job_id"]].ended.wait()
        summary = structured(
            await mcp.call_tool("get_job", {"job_id": started["job_id"], "wait_seconds": 5})
        )
    assert summary["finished"] is True
    assert len(sandbox.api_requests("GET", f"/jobs/{started['job_id']}")) == 2


async def test_a_job_seen_to_end_is_answered_without_asking_descript_again(
    mcp: Client, sandbox: Sandbox
) -> None:
    """An ended job never changes: reading it again spends none of the rate limit."""
    done = await import_sample(mcp)
    reads = len(sandbox.api_requests("GET", f"/jobs/{done['job_id']}"))
    again = structured(await mcp.call_tool("get_job", {"job_id": done["job_id"]}))
    assert (again["finished"], again["outcome"], again["media"]) == (True, "success", done["media"])
    assert len(sandbox.api_requests("GET", f"/jobs/{done['job_id']}")) == reads


async def test_a_publish_whose_link_expires_soon_is_read_again(
    mcp: Client, sandbox: Sandbox
) -> None:
    sandbox.config.download_url_ttl = 120.0  # within the five minutes a link must still last
    project = await import_sample(mcp)
    published = structured(await mcp.call_tool("publish", {"project_id": project["project_id"]}))
    reads = len(sandbox.api_requests("GET", f"/jobs/{published['job_id']}"))
    again = structured(await mcp.call_tool("get_job", {"job_id": published["job_id"]}))
    assert again["download_url"]
    assert len(sandbox.api_requests("GET", f"/jobs/{published['job_id']}")) == reads + 1
