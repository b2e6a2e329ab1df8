"""Two replicas behind HAProxy against one (baseline: one replica behind the same HAProxy, in
the same run), on one PostgreSQL history: throughput and p99 of `get_job` from concurrent
clients; how long a replica's job takes to be picked up by the other when the replica is killed
(SIGKILL: its lease lapses first; goal under 10 s) and when it is stopped (SIGTERM: it hands its
leases over; goal under 2 s); and how soon a listener on one replica hears of a change recorded
by the other (goal: within a second). The HAProxy configuration is deploy/haproxy.cfg, pointed
at loopback."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import datetime
from pathlib import Path

import anyio
import httpx2
import psycopg
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._sandbox import (
    TOKEN,
    background,
    free_port,
    http_server,
    sandbox_process,
    stopped_jobs,
    wait_listening,
)
from tests.postgres import ThrowawayPostgres, binaries

CONFIG = Path(__file__).parents[1] / "deploy" / "haproxy.cfg"
CLIENTS = 16
TAKEOVER_JOB = {"prompt": "An intro", "project_name": "Takeover", "wait_seconds": 0}
FANOUT_JOB = {"prompt": "An intro", "project_name": "Heard elsewhere", "wait_seconds": 0}


def _replica(
    api: str, database: str, home: Path
) -> AbstractContextManager[tuple[int, subprocess.Popen[bytes]]]:
    return http_server(api, home, {"DESCRIPT_MCP_DATABASE_URL": database})


@contextmanager
def _balancer(ports: list[int], home: Path) -> Iterator[int]:
    port = free_port()
    config = CONFIG.read_text().replace("bind :8000", f"bind 127.0.0.1:{port}")
    servers = "\n".join(f"    server r{n} 127.0.0.1:{p}" for n, p in enumerate(ports))
    config = re.sub(r"^\s*server-template .*$", servers, config, flags=re.MULTILINE)
    path = home / f"haproxy-{port}.cfg"
    path.write_text(config)
    with background(["haproxy", "-db", "-f", str(path)]) as process:
        wait_listening(port, process, timeout=10)
        yield port


async def _load(port: int, jobs: list[str], seconds: float) -> tuple[float, float]:
    """Calls a second and p99 (ms) of `CLIENTS` clients calling get_job for `seconds`."""
    samples: list[float] = []
    ready = anyio.Semaphore(0)
    go = anyio.Event()
    deadline = 0.0

    async def client() -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(url, http_client=http)) as mcp,
        ):
            ready.release()
            await go.wait()  # every client connected: the clock starts
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await mcp.call_tool("get_job", {"job_id": random.choice(jobs)})
                samples.append(time.perf_counter() - started)

    async with anyio.create_task_group() as group:
        for _ in range(CLIENTS):
            group.start_soon(client)
        for _ in range(CLIENTS):
            await ready.acquire()
        deadline = time.perf_counter() + seconds
        go.set()
    ordered = sorted(samples)
    return len(samples) / seconds, ordered[int(len(ordered) * 0.99) - 1] * 1000


def _takeover_seconds(
    postgres: ThrowawayPostgres, home: Path, stop: signal.Signals
) -> tuple[float, list[float]]:
    """A job followed by one replica; the replica stopped with `stop`; seconds until the other
    holds it. First, the lags of a job's changes on one replica heard by a listener on the
    other."""
    database = postgres.new_database()
    with ExitStack() as stack:
        api = stack.enter_context(sandbox_process(fast=False))
        one, victim = stack.enter_context(_replica(api, database, home))
        two, _ = stack.enter_context(_replica(api, database, home))
        lags = anyio.run(_fanout, one, two, database)
        answer = anyio.run(_call, one, "agent_edit", TAKEOVER_JOB)
        # The survivor has served this user, so it holds the token (in the OAuth mode every
        # replica holds every connected person's).
        anyio.run(_call, two, "list_jobs", {"limit": 1})
        holder = _holder(database, answer)
        os.kill(victim.pid, stop)
        stopped = time.monotonic()
        # Picked up: the survivor holds the lease, or has already polled the job to its end.
        while _holder(database, answer) in (holder, None) and not _ended(database, answer):
            if time.monotonic() - stopped > 60:
                raise RuntimeError("the job was not taken over within a minute")
            time.sleep(0.01)
        return time.monotonic() - stopped, lags


async def _fanout(one: int, two: int, database: str) -> list[float]:
    """Seconds from each change of a job recorded by replica one to a listener on replica two
    hearing of it (both on this machine's clock)."""
    lags = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"http://127.0.0.1:{two}/mcp"
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http)) as mcp,
        mcp.listen(resource_subscriptions=["descript://jobs"]) as events,
    ):
        job_id = await _call(one, "agent_edit", FANOUT_JOB)
        async for _event in events:
            heard = time.time()
            with psycopg.connect(database) as db:
                at, state = db.execute(
                    "SELECT at, state FROM job_events WHERE job_id = %s ORDER BY id DESC LIMIT 1",
                    (job_id,),
                ).fetchone() or (None, None)
            if at is not None:
                recorded = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
                lags.append(heard - recorded)
            if state in ("stopped", "cancelled"):
                return lags
    return lags


async def _call(port: int, tool: str, arguments: dict[str, object]) -> str:
    """Call a tool on one replica; the job id it answers, if any."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as mcp,
    ):
        result = await mcp.call_tool(tool, arguments)
        assert result.structured_content is not None
        return str(result.structured_content.get("job_id"))


def _ended(database: str, job_id: str) -> bool:
    with psycopg.connect(database) as db:
        row = db.execute("SELECT state FROM jobs WHERE job_id = %s", (job_id,)).fetchone()
    return row is not None and row[0] in ("stopped", "cancelled")


def _holder(database: str, job_id: str) -> str | None:
    with psycopg.connect(database) as db:
        row = db.execute("SELECT holder FROM job_leases WHERE job_id = %s", (job_id,)).fetchone()
    return row[0] if row else None


def run(seconds: float) -> list[tuple[str, str]]:
    found = binaries()
    if found is None or shutil.which("haproxy") is None:
        return [("cluster: PostgreSQL and HAProxy", "not installed: skipped")]
    postgres = ThrowawayPostgres(found)
    postgres.start()
    try:
        with tempfile.TemporaryDirectory() as folder, sandbox_process() as api:
            home = Path(folder)
            jobs = stopped_jobs(api, 300)
            figures = {}
            for replicas in (1, 2):
                database = postgres.new_database()
                with ExitStack() as stack:
                    ports = [
                        stack.enter_context(_replica(api, database, home))[0]
                        for _ in range(replicas)
                    ]
                    front = stack.enter_context(_balancer(ports, home))
                    anyio.run(_load, front, jobs, 1.0)  # warm: every job seen once
                    figures[replicas] = anyio.run(_load, front, jobs, seconds)
            killed, lags = _takeover_seconds(postgres, home, signal.SIGKILL)
            terminated, _ = _takeover_seconds(postgres, home, signal.SIGTERM)
    finally:
        postgres.stop()
    (one_rate, one_p99), (two_rate, two_p99) = figures[1], figures[2]
    return [
        (
            f"cluster: get_job, {CLIENTS} clients, 1 replica behind HAProxy (baseline)",
            f"{one_rate:.0f} calls/s, p99 {one_p99:.1f} ms",
        ),
        (
            f"cluster: get_job, {CLIENTS} clients, 2 replicas behind HAProxy",
            f"{two_rate:.0f} calls/s ({two_rate / one_rate:.2f}x), p99 {two_p99:.1f} ms "
            f"({two_p99 / one_p99:.2f}x)",
        ),
        (
            "cluster: a killed replica's job picked up by the other (goal < 10 s)",
            f"{killed:.1f} s (its lease lapses first)",
        ),
        (
            "cluster: a replica stopped with SIGTERM: its job picked up by the other (goal < 2 s)",
            f"{terminated * 1000:.0f} ms (handed over)",
        ),
        (
            "cluster: a change recorded on one replica heard by a listener on the other "
            "(goal < 1 s)",
            f"median {statistics.median(lags) * 1000:.0f} ms, most {max(lags) * 1000:.0f} ms "
            f"({len(lags)} changes)",
        ),
    ]


if __name__ == "__main__":
    for name, figure in run(seconds=10.0):
        print(f"{name:<70} {figure}")
