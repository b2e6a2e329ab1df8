"""The job waiter: progress changes reported, backoff, a deadline, and cancellation."""

from __future__ import annotations

import itertools

import anyio
import anyio.lowlevel
import pytest

from descript_mcp import NO_RETRIES, DescriptClient, PollSchedule, ProgressUpdate, wait_for_job
from descript_mcp.client.models import ImportMediaRequest, UrlMedia
from descript_mcp.sandbox import Fault, Sandbox
from tests.conftest import FAST_POLL

pytestmark = pytest.mark.anyio


async def _slow_import(
    client: DescriptClient, sandbox: Sandbox, media_url: str, seconds: float
) -> str:
    sandbox.config.timings.import_item = seconds
    created = await client.import_project_media(
        ImportMediaRequest(project_name="Slow", add_media={"a.wav": UrlMedia(url=media_url)})
    )
    return created.job_id


async def test_each_change_of_progress_is_reported_once(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    # Phases last several poll intervals, so none passes unseen on a busy machine.
    sandbox.config.timings.progress_steps = 4
    sandbox.config.timings.transcribe = 0.4
    job_id = await _slow_import(client, sandbox, media_url, 0.4)
    updates: list[ProgressUpdate] = []
    job = await wait_for_job(client, job_id, on_progress=updates.append, schedule=FAST_POLL)
    assert job.job_state == "stopped"
    seen = [(u.job_state, u.label, u.percent) for u in updates]
    assert all(a != b for a, b in itertools.pairwise(seen))
    labels = [u.label for u in updates if u.job_state == "running"]
    assert "Importing media: a.wav" in labels
    assert labels[-1] == "Transcribing"
    percents = [u.percent for u in updates if u.percent is not None]
    assert percents == sorted(percents)
    assert len(set(percents)) >= 3
    assert updates[-1].job_state == "stopped"
    assert all(u.job_id == job_id for u in updates)


async def test_an_async_progress_callback_is_awaited(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    job_id = await _slow_import(client, sandbox, media_url, 0.05)
    states: list[str] = []

    async def record(update: ProgressUpdate) -> None:
        await anyio.lowlevel.checkpoint()
        states.append(update.job_state)

    await wait_for_job(client, job_id, on_progress=record, schedule=FAST_POLL)
    assert states[-1] == "stopped"


async def test_the_deadline_returns_the_running_job(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    job_id = await _slow_import(client, sandbox, media_url, 30.0)
    started = anyio.current_time()
    job = await wait_for_job(client, job_id, max_wait=0.3, schedule=FAST_POLL)
    assert not job.is_terminal
    assert job.job_state == "running"
    assert job.progress is not None
    assert anyio.current_time() - started < 2.0


async def test_polls_back_off_and_never_sleep_past_the_deadline(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    job_id = await _slow_import(client, sandbox, media_url, 30.0)
    clock = [0.0]
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    schedule = PollSchedule(initial=1.0, factor=2.0, maximum=5.0, steady_for=0)
    job = await wait_for_job(
        client, job_id, max_wait=20.0, schedule=schedule, sleep=sleep, clock=lambda: clock[0]
    )
    assert not job.is_terminal
    assert sleeps == [1.0, 2.0, 4.0, 5.0, 5.0, 3.0]


async def test_cancelling_the_wait_leaves_the_job_running(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    job_id = await _slow_import(client, sandbox, media_url, 30.0)
    with anyio.move_on_after(0.2) as scope:
        await wait_for_job(client, job_id, schedule=FAST_POLL)
    assert scope.cancelled_caught
    assert (await client.get_job(job_id)).job_state == "running"
    assert sandbox.api_requests("DELETE") == []


async def test_a_rate_limit_while_polling_is_waited_out(
    make_client, sandbox: Sandbox, media_url: str
) -> None:
    async with make_client(retry=NO_RETRIES) as client:
        job_id = await _slow_import(client, sandbox, media_url, 0.05)
        sandbox.faults.add(Fault("GET", "/jobs/.+", status=429, retry_after=0.05, times=2))
        job = await wait_for_job(client, job_id, schedule=FAST_POLL, max_wait=10)
    assert job.job_state == "stopped"
    assert [r.status for r in sandbox.api_requests("GET", "/jobs/")][:2] == [429, 429]


def test_young_jobs_are_polled_steadily_then_less_often() -> None:
    schedule = PollSchedule(initial=1.0, factor=2.0, maximum=5.0, steady_for=3.0)
    intervals = schedule.intervals()
    assert [next(intervals) for _ in range(7)] == [1.0, 1.0, 1.0, 2.0, 4.0, 5.0, 5.0]
