"""Polling economy: API requests per job and how late a job's end is noticed.

The poll schedule runs on a virtual clock against jobs of 5 s, 60 s and 10 min (exact, and
instant), the previous schedule as the baseline. Callbacks and shared waiting are measured for
real: the server over HTTP, the sandbox on loopback.
Goals: at most 1 request per 5 s of job time on average, the end of a short job noticed within
1.5 s; with callbacks, no polls after the first read and the end noticed within 100 ms.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._sandbox import free_port
from descript_mcp.client.models import ImportJob, ImportResult
from descript_mcp.client.waiter import PollSchedule, wait_for_job
from descript_mcp.sandbox import Sandbox, SandboxConfig, serve, serve_app
from descript_mcp.server import build_server
from descript_mcp.server.http.run import transport_security
from descript_mcp.settings import Settings

PREVIOUS = PollSchedule(initial=1.0, factor=1.5, maximum=10.0, steady_for=0.0)
DURATIONS = (5.0, 60.0, 600.0)


class _VirtualJob:
    """A client whose one job runs for `duration` seconds of virtual time."""

    def __init__(self, duration: float) -> None:
        self.duration, self.now, self.requests = duration, 0.0, 0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def get_job(self, job_id: str) -> ImportJob:
        self.requests += 1
        done = self.now >= self.duration
        return ImportJob(
            job_id=job_id,
            job_type="import/project_media",
            job_state="stopped" if done else "running",
            created_at=datetime.now(UTC),
            drive_id="d",
            result=ImportResult(status="success") if done else None,
        )


async def _simulate(schedule: PollSchedule, duration: float) -> tuple[int, float]:
    job = _VirtualJob(duration)
    await wait_for_job(
        job,
        "j",
        schedule=schedule,
        sleep=job.sleep,  # type: ignore[arg-type]
        clock=lambda: job.now,
    )
    return job.requests, job.now - duration


def _schedule_rows() -> list[tuple[str, str]]:
    rows = []
    for name, schedule in (
        ("previous schedule (baseline)", PREVIOUS),
        ("descript-mcp schedule", PollSchedule()),
    ):
        results = [anyio.run(_simulate, schedule, d) for d in DURATIONS]
        per_job = ", ".join(
            f"{d:g} s: {n} requests, seen {late:.2f} s late"
            for d, (n, late) in zip(DURATIONS, results, strict=True)
        )
        seconds_per_request = sum(DURATIONS) / sum(n for n, _ in results)
        rows.append((f"polling, {name}", per_job))
        rows.append(
            (
                f"polling, {name}: job seconds per request (goal >= 5)",
                f"{seconds_per_request:.1f} s",
            )
        )
    return rows


async def _callbacks_and_sharing() -> list[tuple[str, str]]:
    config = SandboxConfig.for_tests()
    config.timings.import_item = 2.0
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    async with Sandbox(config) as sandbox, serve(sandbox) as api:
        with tempfile.TemporaryDirectory() as home:
            settings = Settings(
                api_key=sandbox.token,
                api_url=api,
                transport="http",
                history_path=Path(home) / "h.sqlite3",
                callback_url=origin,
            )
            app = build_server(settings).streamable_http_app(
                transport_security=transport_security("127.0.0.1")
            )
            headers = {"Authorization": f"Bearer {sandbox.token}"}
            async with (
                serve_app(app, port=port),
                httpx2.AsyncClient(headers=headers, timeout=60) as http,
                Client(streamable_http_client(f"{origin}/mcp", http_client=http)) as mcp,
            ):
                sample = api.removesuffix("/v1") + "/_sandbox/media/sample.wav"
                started = await mcp.call_tool(
                    "import_media", {"add_media": {"a.wav": {"url": sample}}, "wait_seconds": 0}
                )
                job_id = started.structured_content["job_id"]  # type: ignore[index]
                await anyio.sleep(0.2)  # the follower's first read
                reads_before = _reads(sandbox, job_id)
                noticed = await _noticed_at(mcp, job_id)
                job = sandbox.world.jobs[job_id]
                assert job.stopped_at is not None
                late = (noticed - job.stopped_at) / timedelta(milliseconds=1)
                await anyio.sleep(0.5)
                polls = _reads(sandbox, job_id) - reads_before - 1  # less the callback's check
            settings = settings.model_copy(update={"transport": "stdio", "callback_url": None})
            async with Client(build_server(settings)) as mcp:
                alone = await _reads_while_waiting(mcp, sandbox, api, waiters=1)
                shared = await _reads_while_waiting(mcp, sandbox, api, waiters=5)
    return [
        ("callbacks: polls after the first read, 2.5 s job (goal 0)", str(polls)),
        ("callbacks: end of the job noticed (goal < 100 ms)", f"{late:.0f} ms late"),
        (
            "reads of a 2.5 s job: 1 waiter (baseline), 5 concurrent waiters",
            f"{alone}, {shared} (one poll loop: {shared / alone:.2f}x)",
        ),
    ]


async def _reads_while_waiting(mcp: Client, sandbox: Sandbox, api: str, waiters: int) -> int:
    """GETs of one running job while `waiters` get_job calls wait on it to its end."""
    sample = api.removesuffix("/v1") + "/_sandbox/media/sample.wav"
    started = await mcp.call_tool(
        "import_media", {"add_media": {"a.wav": {"url": sample}}, "wait_seconds": 0}
    )
    job_id = started.structured_content["job_id"]  # type: ignore[index]
    async with anyio.create_task_group() as group:
        for _ in range(waiters):
            group.start_soon(mcp.call_tool, "get_job", {"job_id": job_id, "wait_seconds": 30})
    return _reads(sandbox, job_id)


def _reads(sandbox: Sandbox, job_id: str) -> int:
    return len([r for r in sandbox.requests if r.method == "GET" and r.path.endswith(job_id)])


async def _noticed_at(mcp: Client, job_id: str) -> datetime:
    """When the server recorded the job's end: its history event, not when this loop looked."""
    for _ in range(2000):
        record: dict[str, Any] = json.loads(
            (await mcp.read_resource(f"descript://jobs/{job_id}")).contents[0].text
        )  # type: ignore[union-attr]
        ends = [event["at"] for event in record["events"] if event["state"] == "stopped"]
        if ends:
            return datetime.fromisoformat(ends[0])
        await anyio.sleep(0.005)
    raise RuntimeError("the job's end was never noticed")


def run() -> list[tuple[str, str]]:
    started = time.monotonic()
    rows = _schedule_rows()
    rows += anyio.run(_callbacks_and_sharing)
    rows.append(("polling benchmark run time", f"{time.monotonic() - started:.1f} s"))
    return rows
