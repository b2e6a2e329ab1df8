"""The hosted shape, for real: PostgreSQL, `descript-mcp serve` processes and HAProxy (with the
shipped deploy/haproxy.cfg) in front, on loopback. Thirty jobs start through the balancer; then
one replica is killed with SIGKILL while their calls wait on the jobs. The clients retry
through HAProxy, the survivor takes the dead replica's jobs over, every job ends in the history
exactly once, listeners hear of them, and no job-creating request is ever sent twice. Three
replicas outlive PostgreSQL restarting, their connections terminated and a malformed NOTIFY,
ready again on their own; a replica stopped with SIGTERM hands its jobs over at once."""

from __future__ import annotations

import contextlib
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

from bench._sandbox import free_port, http_server, wait_listening
from descript_mcp.client.api import shared_tls_context
from descript_mcp.sandbox import Sandbox, SandboxConfig, serve
from descript_mcp.sandbox.config import JobTimings
from tests.postgres import ThrowawayPostgres, connected_again, terminate_backends
from tests.server.conftest import structured
from tests.server.test_transports import _as
from tests.waiting import eventually

pytestmark = pytest.mark.anyio

JOBS = 30
DEPLOY = Path(__file__).parents[2] / "deploy" / "haproxy.cfg"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    # Long enough that every job outlives the kill and the takeover (a lease lasts 6 s).
    config = SandboxConfig(
        timings=JobTimings(queued=0.2, agent_step=10.0, progress_steps=4),
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
def replica(
    api: str, database: str, home: Path, log: Path | None = None, **env: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """`descript-mcp serve` over HTTP on the shared database, as a process of its own."""
    env |= {"DESCRIPT_MCP_DATABASE_URL": database, "DESCRIPT_MCP_DRAIN_SECONDS": "10"}
    with http_server(api, home, env, log) as (port, process):
        yield process, port


@contextmanager
def balancer(ports: list[int], home: Path) -> Iterator[int]:
    """HAProxy with the shipped configuration, its servers and port set for loopback."""
    port = free_port()
    config = DEPLOY.read_text().replace("bind :8000", f"bind 127.0.0.1:{port}")
    servers = "\n".join(f"    server r{n} 127.0.0.1:{p}" for n, p in enumerate(ports))
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
            async with httpx.AsyncClient(verify=shared_tls_context()) as http:
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
            # A job's follower takes its lease after the call returns (wait_seconds 0), and
            # frees it when the job ends: on a busy machine the first may end before the last
            # is started.
            led = await eventually(
                lambda: (
                    (leases := holders(database)).keys() | ends_recorded(database).keys()
                    >= set(started)
                    and leases
                ),
                "every job has a leader or has ended",
                within=20,  # a job lasts 20 s
            )
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
                # A job's end reaches its waiter and the listeners on their own streams, in
                # either order: the listeners are heard out before they are closed.
                await eventually(
                    lambda: [at for at in heard if at > killed_at],
                    "listeners heard the jobs end",
                    within=60,
                )
            assert len(finished) == JOBS
            assert all(answer["outcome"] == "success" for answer in finished.values())

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


async def readiness(ports: list[int]) -> list[bool]:
    """Each replica's answer to GET /ready: ready or not (no answer: not)."""
    answers = []
    async with httpx.AsyncClient(timeout=2, verify=shared_tls_context()) as http:
        for port in ports:
            try:
                answers.append((await http.get(f"http://127.0.0.1:{port}/ready")).is_success)
            except httpx.HTTPError:
                answers.append(False)
    return answers


@asynccontextmanager
async def watching_readiness(ports: list[int]) -> AsyncIterator[list[tuple[float, int, str]]]:
    """Asks each replica's /ready every 100 ms while the block runs; yields every answer that
    was not ready: when it was asked, of which port, and what it said."""
    refused: list[tuple[float, int, str]] = []

    async def watch(port: int) -> None:
        async with httpx.AsyncClient(timeout=2, verify=shared_tls_context()) as http:
            while True:
                asked = time.monotonic()
                try:
                    answer = await http.get(f"http://127.0.0.1:{port}/ready")
                    ready, said = answer.is_success, answer.text
                except httpx.HTTPError as error:
                    ready, said = False, repr(error)
                if not ready:
                    refused.append((asked, port, said))
                await anyio.sleep(0.1)

    async with anyio.create_task_group() as group:
        for port in ports:
            group.start_soon(watch, port)
        yield refused
        group.cancel_scope.cancel()


def server_states(home: Path) -> dict[str, str]:
    """Each of the balancer's servers and its state (UP, DOWN, ...), from its own table."""
    with socket.socket(socket.AF_UNIX) as stats:
        stats.connect(str(home / "haproxy.sock"))
        stats.sendall(b"show stat\n")
        table = b""
        while chunk := stats.recv(65536):
            table += chunk
    return {
        fields[1]: fields[17]
        for line in table.decode().splitlines()
        if (fields := line.split(","))[0] == "replicas" and fields[1].startswith("r")
    }


CHAOS_JOBS = 12


async def test_replicas_outlive_their_database_and_serve_again_on_their_own(
    sandbox: Sandbox, postgres: ThrowawayPostgres, database: str, tmp_path: Path
) -> None:
    """Three replicas follow jobs while PostgreSQL is restarted twice, every connection to it
    is terminated twice, and a malformed NOTIFY arrives. No replica is restarted: each says it
    is not ready while it cannot serve (and HAProxy takes it out), and ready again on its own
    once it can; every job ends, recorded once, from one POST each."""
    sandbox.config.timings = JobTimings(queued=0.2, agent_step=5.0, progress_steps=4)
    token = sandbox.token
    logs = [tmp_path / f"replica-{n}.log" for n in range(3)]
    async with serve(sandbox) as api:
        with (
            replica(api, database, tmp_path, logs[0]) as (first, port_one),
            replica(api, database, tmp_path, logs[1]) as (second, port_two),
            replica(api, database, tmp_path, logs[2]) as (third, port_three),
        ):
            ports = [port_one, port_two, port_three]
            processes = [first, second, third]
            with balancer(ports, tmp_path) as front:
                url = f"http://127.0.0.1:{front}/mcp"
                for port in ports:  # each replica holds the token: any may take a job over
                    await call(f"http://127.0.0.1:{port}/mcp", token, "list_jobs", {"limit": 1})
                await eventually(
                    lambda: readiness_all(ports, True), "every replica ready", within=30
                )
                started: list[str] = []

                async def start(n: int) -> None:
                    job = await call(
                        url,
                        token,
                        "agent_edit",
                        {"prompt": f"Intro {n}", "project_name": f"Blip {n}", "wait_seconds": 0},
                    )
                    started.append(job["job_id"])

                async with anyio.create_task_group() as group:
                    for n in range(CHAOS_JOBS):
                        group.start_soon(start, n)
                windows: list[tuple[float, float]] = []
                async with watching_readiness(ports) as refused:
                    for _ in range(2):
                        began = time.monotonic()
                        postgres.halt()
                        # Each replica notices, and the balancer takes them all out.
                        await eventually(
                            lambda: readiness_all(ports, False), "no replica ready", within=30
                        )
                        await eventually(
                            lambda: balancer_says(tmp_path, "DOWN"), "HAProxy: all DOWN"
                        )
                        postgres.resume()
                        await eventually(
                            lambda: readiness_all(ports, True), "every replica ready", within=30
                        )
                        await eventually(lambda: balancer_says(tmp_path, "UP"), "HAProxy: all UP")
                        windows.append((began, time.monotonic()))
                        began = time.monotonic()
                        ended = terminate_backends(database)
                        assert len(ended) >= 6  # a listener and a heartbeat each, at least
                        await eventually(
                            lambda ended=ended: connected_again(database, ended),  # type: ignore[misc]
                            "each replica listening and asking again",
                        )
                        await eventually(
                            lambda: readiness_all(ports, True), "every replica ready", within=30
                        )
                        windows.append((began, time.monotonic()))
                    with psycopg.connect(database, autocommit=True) as db:
                        db.execute("NOTIFY descript_mcp_jobs, 'not json'")
                    # Calls are answered again, through the balancer and by each replica.
                    for port in ports:
                        await call(f"http://127.0.0.1:{port}/mcp", token, "list_jobs", {"limit": 1})
                    finished = {job_id: await stopped(url, token, job_id) for job_id in started}
                    await eventually(
                        lambda: readiness_all(ports, True), "every replica ready", within=30
                    )
                assert all(answer["outcome"] == "success" for answer in finished.values())
                # Not ready only while it could not serve: every refusal within a disruption.
                assert refused, "the replicas said they were not ready while the database was down"
                outside = [
                    (at, port, said)
                    for at, port, said in refused
                    if not any(a <= at <= b for a, b in windows)
                ]
                assert outside == [], f"disruptions: {windows}"
                # Never restarted: the same processes, alive.
                assert [process.poll() for process in processes] == [None, None, None]
    assert ends_recorded(database) == dict.fromkeys(started, 1)
    creates = sandbox.api_requests("POST", "/jobs/agent")
    assert len(creates) == CHAOS_JOBS
    assert len({request.request_id for request in creates}) == CHAOS_JOBS
    for log in logs:
        text = log.read_text()
        assert "skipped a malformed notification" in text
        assert "Task group is not initialized" not in text
        assert "ExceptionGroup" not in text


async def readiness_all(ports: list[int], ready: bool) -> bool:
    return all(answer == ready for answer in await readiness(ports))


def balancer_says(home: Path, state: str) -> bool:
    """Whether HAProxy has every replica in `state` (UP or DOWN)."""
    return set(server_states(home).values()) == {state}


async def stopped(url: str, token: str, job_id: str) -> dict[str, Any]:
    """The job once it stopped, waited on with get_job through the balancer (asked again
    while a replica is out)."""
    while True:
        answer = await call(url, token, "get_job", {"job_id": job_id, "wait_seconds": 60}, 8)
        if answer["state"] == "stopped":
            return answer


def leases(database: str) -> dict[str, tuple[str, float]]:
    """Each job's lease: its holder and when it lapses (time.time())."""
    with psycopg.connect(database) as db:
        rows = db.execute("SELECT job_id, holder, expires_at FROM job_leases").fetchall()
    return {job_id: (holder, expires_at) for job_id, holder, expires_at in rows}


async def test_a_replica_stopped_with_sigterm_hands_its_jobs_over_at_once(
    sandbox: Sandbox, database: str, tmp_path: Path
) -> None:
    """SIGTERM (a deploy, a scale-down): the replica answers a waiting call with the job as it
    is, closes its listeners' streams, frees its leases, and exits once its calls are done.
    The other replica takes every job over before any lease could have lapsed, and follows
    them to their end; none is polled by both."""
    sandbox.config.timings = JobTimings(queued=0.2, agent_step=4.0, progress_steps=4)
    token = sandbox.token
    async with serve(sandbox) as api_one, serve(sandbox) as api_two:
        with (
            replica(api_one, database, tmp_path) as (victim, port_one),
            replica(api_two, database, tmp_path) as (_survivor, port_two),
            balancer([port_one, port_two], tmp_path) as front,
        ):
            url = f"http://127.0.0.1:{front}/mcp"
            on_victim = f"http://127.0.0.1:{port_one}/mcp"
            await call(f"http://127.0.0.1:{port_two}/mcp", token, "list_jobs", {"limit": 1})
            victim_id = (await health(port_one))["replica"]
            started = [
                (
                    await call(
                        on_victim,
                        token,
                        "agent_edit",
                        {"prompt": f"Intro {n}", "project_name": f"Moved {n}", "wait_seconds": 0},
                    )
                )["job_id"]
                for n in range(4)
            ]
            answers: list[dict[str, Any]] = []
            listening, stream_closed, waiting = anyio.Event(), anyio.Event(), anyio.Event()

            async def heard_progress(*_: object) -> None:
                waiting.set()

            async def wait_on_victim() -> None:
                # The wait's first progress notification says the server is in the wait.
                try:
                    async with _as(token, on_victim, "auto") as mcp:
                        # Listed first, as hosts do: else the client lists them after the
                        # answer, to check it, from a replica that may have gone by then.
                        await mcp.list_tools()
                        arguments = {"job_id": started[0], "wait_seconds": 60}
                        result = await mcp.call_tool(
                            "get_job", arguments, progress_callback=heard_progress
                        )
                        answers.append(structured(result))
                except Exception:
                    # Once answered, the session may fail to close: the replica it was on has
                    # gone (as a client reconnecting through the balancer would find).
                    if not answers:
                        raise

            async def listen_on_victim() -> None:
                async with (
                    _as(token, on_victim, "auto") as mcp,
                    mcp.listen(resource_subscriptions=["descript://jobs"]) as events,
                ):
                    listening.set()
                    with contextlib.suppress(Exception):  # ended by the server, either way
                        async for _event in events:
                            pass
                stream_closed.set()

            async with anyio.create_task_group() as group:
                group.start_soon(listen_on_victim)
                group.start_soon(wait_on_victim)
                await listening.wait()
                with anyio.fail_after(30):
                    await waiting.wait()
                held = leases(database)
                assert {held[job_id][0] for job_id in started} == {victim_id}
                lapses = min(held[job_id][1] for job_id in started)
                os.kill(victim.pid, signal.SIGTERM)
                with anyio.fail_after(30):
                    await stream_closed.wait()
            (answer,) = answers
            assert answer["state"] in ("queued", "running")
            assert "restarting" in answer["wait_capped"]
            await eventually(lambda: moved(database, started, victim_id), "jobs taken over")
            assert time.time() < lapses, "taken over before any lease lapsed: handed over"
            await eventually(
                lambda: victim.poll() is not None, "the stopped replica exits", within=30
            )
            finished = {job_id: await stopped(url, token, job_id) for job_id in started}
    assert all(answer["outcome"] == "success" for answer in finished.values())
    assert ends_recorded(database) == dict.fromkeys(started, 1)
    assert len(sandbox.api_requests("POST", "/jobs/agent")) == len(started)
    victim_host, survivor_host = api_one.split("/")[2], api_two.split("/")[2]
    for job_id in started:
        gets = sandbox.api_requests("GET", f"/jobs/{job_id}")
        first_by_survivor = min(r.at for r in gets if r.host == survivor_host)
        assert all(r.at < first_by_survivor for r in gets if r.host == victim_host)


async def health(port: int) -> dict[str, Any]:
    async with httpx.AsyncClient(verify=shared_tls_context()) as http:
        answer: dict[str, Any] = (await http.get(f"http://127.0.0.1:{port}/health")).json()
    return answer


def moved(database: str, jobs: list[str], victim: str) -> bool:
    """Every job's lease is held by a replica other than `victim`."""
    held = leases(database)
    return all(job_id in held and held[job_id][0] != victim for job_id in jobs)
