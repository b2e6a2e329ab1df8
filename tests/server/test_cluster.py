"""The hosted shape, for real: PostgreSQL, two `descript-mcp serve` processes and HAProxy (with
the shipped deploy/haproxy.cfg) in front, on loopback. Fifty jobs start through the balancer;
then one replica is killed with SIGKILL while fifty calls wait on the jobs. The clients retry
through HAProxy, the survivor takes the dead replica's jobs over, every job ends in the history
exactly once, listeners hear of them, and no job-creating request is ever sent twice."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import psycopg
import pytest
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import ResourceUpdatedNotification

from bench._sandbox import http_server, wait_listening
from descript_mcp.sandbox import Sandbox, SandboxConfig, serve
from descript_mcp.sandbox.config import JobTimings
from tests.postgres import ThrowawayPostgres
from tests.server.conftest import structured
from tests.server.test_transports import _as, _free_port

pytestmark = pytest.mark.anyio

JOBS = 50
DEPLOY = Path(__file__).parents[2] / "deploy" / "haproxy.cfg"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    # Long enough that every job outlives the kill and the takeover (a lease lasts 6 s).
    config = SandboxConfig(
        timings=JobTimings(queued=0.2, agent_step=8.0, progress_steps=4),
        rate_limit_requests=100_000,
    )
    config.drives[0].ai_credits = 1_000_000
    return config


@pytest.fixture
def database(postgres: ThrowawayPostgres | None) -> str:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    if shutil.which("haproxy") is None:
        if os.environ.get("DESCRIPT_MCP_REQUIRE_POSTGRES"):
            pytest.fail("HAProxy is required and not installed (apt-get install haproxy)")
        pytest.skip("HAProxy is not installed (apt-get install haproxy)")
    return postgres.new_database()


@contextmanager
def replica(api: str, database: str, home: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`descript-mcp serve` over HTTP on the shared database, as a process of its own."""
    with http_server(api, home, {"DESCRIPT_MCP_DATABASE_URL": database}) as (port, process):
        yield process, port


@contextmanager
def balancer(ports: list[int], home: Path) -> Iterator[int]:
    """HAProxy with the shipped configuration, its servers and port set for loopback."""
    port = _free_port()
    config = DEPLOY.read_text().replace("bind :8000", f"bind 127.0.0.1:{port}")
    servers = "\n".join(
        f"    server r{n} 127.0.0.1:{p} check inter 1s fall 2 rise 1" for n, p in enumerate(ports)
    )
    config = re.sub(r"^\s*server-template .*$", servers, config, flags=re.MULTILINE)
    # The test reads who has requests open from HAProxy's own counters.
    config = config.replace("global\n", f"global\n    stats socket {home / 'haproxy.sock'}\n", 1)
    (home / "haproxy.cfg").write_text(config)
    process = subprocess.Popen(
        ["haproxy", "-db", "-f", str(home / "haproxy.cfg")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listening(port, process, timeout=10)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def open_requests(home: Path, server: str) -> int:
    """Requests a server of the balancer is serving now (HAProxy's scur)."""
    with socket.socket(socket.AF_UNIX) as stats:
        stats.connect(str(home / "haproxy.sock"))
        stats.sendall(b"show stat\n")
        table = b""
        while chunk := stats.recv(65536):
            table += chunk
    for line in table.decode().splitlines():
        fields = line.split(",")
        if fields[:2] == ["replicas", server]:
            return int(fields[4])
    raise AssertionError(f"no server {server} in HAProxy's table")


async def call(
    url: str, token: str, name: str, arguments: dict[str, Any], attempts: int = 1
) -> dict[str, Any]:
    """A tool call through the balancer; a read is retried while the replica that had it is
    gone (a job-creating call never is)."""
    for attempt in range(attempts):
        try:
            async with _as(token, url, "auto") as mcp:
                return structured(await mcp.call_tool(name, arguments))
        except Exception:  # a connection cut by the kill: the next attempt goes elsewhere
            if attempt == attempts - 1:
                raise
            await anyio.sleep(0.5)
    raise AssertionError("unreachable")


@asynccontextmanager
async def listener(url: str, token: str, heard: list[float]) -> AsyncIterator[None]:
    """Listens to descript://jobs, listening again through the balancer when cut off."""

    async def listen() -> None:
        while True:
            try:
                async with (
                    _as(token, url, "auto") as mcp,
                    mcp.listen(resource_subscriptions=["descript://jobs"]) as events,
                ):
                    async for _event in events:
                        heard.append(time.monotonic())
            except Exception:  # cut off by the kill: subscribe again elsewhere
                await anyio.sleep(0.2)

    async with anyio.create_task_group() as group:
        group.start_soon(listen)
        yield
        group.cancel_scope.cancel()


def holders(database: str) -> dict[str, str]:
    with psycopg.connect(database) as db:
        rows = db.execute("SELECT job_id, holder FROM job_leases").fetchall()
    return dict(rows)


def ends_recorded(database: str) -> dict[str, int]:
    with psycopg.connect(database) as db:
        rows = db.execute(
            "SELECT job_id, count(*) FROM job_events WHERE state = 'stopped' GROUP BY job_id"
        ).fetchall()
    return dict(rows)


async def test_a_replica_killed_mid_job_loses_nothing(
    sandbox: Sandbox, database: str, tmp_path: Path
) -> None:
    token = sandbox.token
    async with serve(sandbox) as api_one, serve(sandbox) as api_two:
        with (
            replica(api_one, database, tmp_path) as (victim, port_one),
            replica(api_two, database, tmp_path) as (_survivor, port_two),
            balancer([port_one, port_two], tmp_path) as front,
        ):
            url = f"http://127.0.0.1:{front}/mcp"
            hosts = {api_one.split("/")[2]: "victim", api_two.split("/")[2]: "survivor"}
            ids = {}
            async with httpx.AsyncClient() as http:
                for port, name in ((port_one, "victim"), (port_two, "survivor")):
                    health = (await http.get(f"http://127.0.0.1:{port}/health")).json()
                    ids[health["replica"]] = name

            started: list[str] = []

            async def start(n: int) -> None:
                job = await call(
                    url,
                    token,
                    "agent_edit",
                    {"prompt": f"Intro {n}", "project_name": f"Show {n}", "wait_seconds": 0},
                )
                started.append(job["job_id"])

            async with anyio.create_task_group() as group:
                for n in range(JOBS):
                    group.start_soon(start, n)
            assert len(started) == JOBS
            led = holders(database)
            by_victim = [job for job in started if ids.get(led.get(job, "")) == "victim"]
            assert by_victim, "round robin gave the victim jobs to follow"

            heard: list[float] = []
            finished: dict[str, dict[str, Any]] = {}

            async def wait(job_id: str) -> None:
                while True:  # get_job is a read: asking again is always safe
                    answer = await call(
                        url, token, "get_job", {"job_id": job_id, "wait_seconds": 120}, attempts=8
                    )
                    if answer["state"] == "stopped":
                        finished[job_id] = answer
                        return

            async with (
                listener(url, token, heard),
                listener(url, token, heard),
                anyio.create_task_group() as waits,
            ):
                for job_id in started:
                    waits.start_soon(wait, job_id)
                # Until a share of the waits is open on the victim: cut by the kill, each is
                # resumed or asked again by its client, through the balancer, and answered.
                for _ in range(200):
                    if open_requests(tmp_path, "r0") >= 3:
                        break
                    await anyio.sleep(0.05)
                assert open_requests(tmp_path, "r0") >= 3
                killed_at = time.monotonic()
                os.kill(victim.pid, signal.SIGKILL)
            assert len(finished) == JOBS
            assert all(answer["outcome"] == "success" for answer in finished.values())
            assert [at for at in heard if at > killed_at], "listeners heard the jobs end"

    # Every job ended in the history exactly once.
    assert ends_recorded(database) == dict.fromkeys(started, 1)
    # No job-creating request was sent twice.
    creates = sandbox.api_requests("POST", "/jobs/agent")
    assert len(creates) == JOBS
    assert len({request.request_id for request in creates}) == JOBS
    # Each job was polled by one replica at a time: the victim's jobs by the survivor only
    # after the kill, the survivor's by the survivor only.
    for job_id in started:
        for request in sandbox.api_requests("GET", f"/jobs/{job_id}"):
            poller = hosts[str(request.host)]
            if job_id in by_victim and poller == "survivor":
                assert request.at > killed_at, f"{job_id} polled by both before the kill"
            if job_id not in by_victim:
                assert poller == "survivor", f"{job_id} polled by the victim too"


def session_server(home: Path) -> str:
    """The server HAProxy sticks the one session to (r0 or r1), from its stick table."""
    with socket.socket(socket.AF_UNIX) as stats:
        stats.connect(str(home / "haproxy.sock"))
        stats.sendall(b"show table replicas\n")
        table = b""
        while chunk := stats.recv(65536):
            table += chunk
    (server_id,) = re.findall(r"key=\S+ .*server_id=(\d+)", table.decode())
    return f"r{int(server_id) - 1}"


async def test_a_session_stays_on_its_replica_and_a_new_one_hears_its_job_end(
    sandbox: Sandbox, database: str, tmp_path: Path
) -> None:
    token = sandbox.token
    async with serve(sandbox) as api:
        with (
            replica(api, database, tmp_path) as (first, port_one),
            replica(api, database, tmp_path) as (second, port_two),
            balancer([port_one, port_two], tmp_path) as front,
        ):
            url = f"http://127.0.0.1:{front}/mcp"
            async with _as(token, url, "legacy") as mcp:
                # Sticky: on the other replica the session would be unknown (404).
                for _ in range(10):
                    structured(await mcp.call_tool("list_jobs", {"limit": 1}))
                started = structured(
                    await mcp.call_tool(
                        "agent_edit",
                        {"prompt": "Intro", "project_name": "Sticky", "wait_seconds": 0},
                    )
                )
            holding = session_server(tmp_path)
            victim = first if holding == "r0" else second
            os.kill(victim.pid, signal.SIGKILL)
            job_id = started["job_id"]
            assert not sandbox.world.jobs[job_id].ended.is_set()

            heard = anyio.Event()

            async def on_message(message: Any) -> None:
                if isinstance(message, ResourceUpdatedNotification) and str(
                    message.params.uri
                ).endswith(job_id):
                    heard.set()

            # A new session, elsewhere: it subscribes again and hears the job end.
            async with _as(token, url, "legacy", message_handler=on_message) as mcp:
                uri = f"descript://jobs/{job_id}"
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", MCPDeprecationWarning)
                    await mcp.subscribe_resource(uri)
                with anyio.fail_after(60):
                    await sandbox.world.jobs[job_id].ended.wait()
                    await heard.wait()
                    record: dict[str, Any] = {}
                    while record.get("state") != "stopped":
                        contents = (await mcp.read_resource(uri)).contents
                        record = json.loads(contents[0].text)  # type: ignore[union-attr]
                        await anyio.sleep(0.1)
    assert record["result"]["status"] == "success"
