"""Scale in one process, against a sandbox process on loopback.

1. Sessions: 200 MCP sessions over streamable HTTP (quick: 40 sharing 10 tokens) call `get_job`
   (wait_seconds 0, a finished job, which the server answers from memory once it has seen it
   end) in a loop on `descript-mcp serve --transport http`; the same
   sessions call a trivial tool on a bare MCPServer, the SDK's floor, in the same run. Calls/s,
   p50/p99, CPU per call and peak RSS. Goal: throughput >= 0.7x the floor's.
2. Waiters: 100, 250 and 500 jobs of 5 s (quick: 100 of 2 s) started at once by users of 10 jobs
   each, every job waited on with `get_job(wait_seconds=...)` and progress, on a fresh server per
   size. Wall time against the job's duration, how late each end is seen, API reads per job, and
   the server's peak RSS growth per job. Goal: growth linear and small per job.

The server, the sandbox and the load generators share this machine's CPUs, so throughput is the
whole loopback system's: the CPU each side spends per call is printed too.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, closing
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._sandbox import background, free_port, serve_command, wait_listening

# The SDK's floor: a bare MCPServer with one trivial tool, logging as little as descript-mcp.
FLOOR = """
import sys
from mcp.server import MCPServer

server = MCPServer("floor", log_level="WARNING")

@server.tool()
async def ping() -> dict[str, str]:
    return {"ok": "yes"}

server.run("streamable-http", port=int(sys.argv[1]))
"""

# A sandbox with `count` tokens on its main drive (one per user, so that no user comes near the
# per-token rate limit), and routes for the benchmark: counters, and the duration of new jobs.
SANDBOX = """
import sys
from collections import Counter
import uvicorn
from starlette.responses import JSONResponse
from descript_mcp.sandbox import JobTimings, Sandbox, SandboxConfig

port, count = int(sys.argv[1]), int(sys.argv[2])
config = SandboxConfig(timings=JobTimings.fast())
config.drives[0].tokens = tuple(f"scale-{i}" for i in range(count))
sandbox = Sandbox(config)

async def app(scope, receive, send):
    path = scope.get("path", "")
    if path == "/_bench/requests":
        counts = Counter(
            f"{r.method} {r.status}" for r in sandbox.requests if r.path.startswith("/jobs/")
        )
        return await JSONResponse(counts)(scope, receive, send)
    if path == "/_bench/stopped":
        stopped = {
            job.id: job.stopped_at.timestamp()
            for job in sandbox.world.jobs.values()
            if job.stopped_at is not None
        }
        return await JSONResponse(stopped)(scope, receive, send)
    if path.startswith("/_bench/duration/"):
        seconds = float(path.rpartition("/")[2])
        config.timings = JobTimings(queued=0.5, transcribe=seconds - 0.5, progress_steps=4)
        return await JSONResponse({"seconds": seconds})(scope, receive, send)
    await sandbox.app(scope, receive, send)

uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
"""


@dataclass(frozen=True)
class Plan:
    sessions: int  # concurrent MCP sessions over HTTP
    users: int  # distinct tokens among them (each token costs the server a client)
    calls: int  # measured calls per session, after WARMUP_CALLS
    rounds: int  # floor and get_job alternate; the best round of each is kept
    sizes: tuple[int, ...]  # jobs waited on at once, each size on a fresh server
    per_user: int  # of those jobs, how many each user starts
    duration: float  # seconds each job runs


QUICK = Plan(sessions=40, users=5, calls=5, rounds=1, sizes=(100,), per_user=20, duration=1.5)
FULL = Plan(
    sessions=200, users=200, calls=10, rounds=2, sizes=(100, 250, 500), per_user=10, duration=5.0
)
# The load generators stand for a proxy that names each user's address.
TRUSTED = {"DESCRIPT_MCP_TRUSTED_PROXIES": "127.0.0.1/32"}
GENERATORS = 2  # load generator processes: one Python process cannot load the floor fully


WARMUP_CALLS = 1  # per session, before the measured calls: it makes the token's client


@dataclass
class Load:
    """One load generator's share: sessions (token, arguments) calling `tool` `calls` times."""

    url: str
    tool: str
    sessions: list[tuple[str, dict[str, Any]]]
    calls: int


@dataclass
class LoadResult:
    latencies: list[float]
    started: float
    ended: float
    cpu: float
    errors: int


Measured = tuple[list[LoadResult], float]  # the generators' results, the server's CPU seconds


@dataclass(frozen=True)
class Server:
    port: int
    process: subprocess.Popen[bytes]
    history: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


# -- processes -----------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory_mib(pid: int, key: str) -> float:
    """VmRSS (now) or VmHWM (the peak so far) of a process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(key)


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@cache
def _tls() -> ssl.SSLContext:
    """One context for every session's HTTP client: each new one would load the CA bundle
    again (50 ms of CPU), and loopback traffic is plain HTTP anyway."""
    return ssl.create_default_context()


def _mcp_http(token: str, timeout: float) -> httpx2.AsyncClient:
    # Each user from an address of its own, as a team's people reach a server behind its proxy:
    # the server trusts loopback to name them (TRUSTED), and budgets new tokens per address.
    number = int(token.removeprefix("scale-"))
    address = f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"
    headers = _headers(token) | {"X-Forwarded-For": address}
    return httpx2.AsyncClient(headers=headers, timeout=timeout, verify=_tls())


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# -- load generators (processes of their own) --------------------------------------------


def _worker(commands: Any, replies: Any, go: Any, stop: Any) -> None:
    """A load generator: runs each Load it is given, between the parent's go and stop."""
    while (load := commands.get()) is not None:
        try:
            replies.put(anyio.run(_generate, load, replies, go, stop))
        except BaseException as error:  # the parent stops waiting at once
            replies.put(f"failed: {error!r}")
            raise


async def _generate(load: Load, replies: Any, go: Any, stop: Any) -> str:
    opened, done = [0], [0]
    all_open, started, all_done, release = (anyio.Event() for _ in range(4))
    latencies: list[float] = []
    errors = [0]

    async def session(token: str, arguments: dict[str, Any]) -> None:
        async with (
            _mcp_http(token, 120) as http,
            Client(streamable_http_client(load.url, http_client=http), mode="legacy") as mcp,
        ):
            for _ in range(WARMUP_CALLS):
                await mcp.call_tool(load.tool, arguments)
            opened[0] += 1
            if opened[0] == len(load.sessions):
                all_open.set()
            await started.wait()
            for _ in range(load.calls):
                began = time.perf_counter()
                result = await mcp.call_tool(load.tool, arguments)
                latencies.append(time.perf_counter() - began)
                errors[0] += result.is_error
            done[0] += 1
            if done[0] == len(load.sessions):
                all_done.set()
            await release.wait()  # sessions close after the measurement, not during it

    async with anyio.create_task_group() as group:
        for token, arguments in load.sessions:
            group.start_soon(session, token, arguments)
        await all_open.wait()
        replies.put("ready")
        await anyio.to_thread.run_sync(go.wait)
        began, cpu = time.monotonic(), time.process_time()
        started.set()
        await all_done.wait()
        ended, cpu = time.monotonic(), time.process_time() - cpu
        replies.put(LoadResult(latencies, began, ended, cpu, errors[0]))
        await anyio.to_thread.run_sync(stop.wait)
        release.set()
    return "closed"


class Generators:
    """Load generator processes, reused for every target of the run."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.replies = context.Queue()
        self.go, self.stop = context.Event(), context.Event()
        self.commands = [context.Queue() for _ in range(count)]
        self.processes = [
            context.Process(
                target=_worker, args=(queue, self.replies, self.go, self.stop), daemon=True
            )
            for queue in self.commands
        ]
        for process in self.processes:
            process.start()

    def _reply(self, expected: str) -> Any:
        reply = self.replies.get(timeout=300)
        if isinstance(reply, str) and reply != expected:
            raise RuntimeError(f"a load generator {reply}")
        return reply

    def run(self, loads: list[Load], server_pid: int) -> Measured:
        """Each load on a generator, started together; the results and server CPU seconds."""
        for queue, load in zip(self.commands, loads, strict=True):
            queue.put(load)
        for _ in loads:
            self._reply("ready")
        cpu = _cpu_seconds(server_pid)
        self.go.set()
        results = [self._reply("result") for _ in loads]
        cpu = _cpu_seconds(server_pid) - cpu
        self.stop.set()
        for _ in loads:
            self._reply("closed")
        self.go.clear()
        self.stop.clear()
        return results, cpu

    def close(self) -> None:
        for queue in self.commands:
            queue.put(None)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()


# -- 2. many jobs waited on at once -------------------------------------------------------


@dataclass
class WaitRound:
    jobs: int
    wall: float
    ramp: float
    late: list[float]
    seen_late: list[float]
    client_cpu: float
    reads: int
    limited: int
    unfinished: int
    notifications: int
    rss_before: float
    rss_growth: float
    cpu: float


async def _wait_round(
    server: Server,
    api: str,
    users: int,
    per_user: int,
    warm: dict[str, str],
    budget: float,
) -> WaitRound:
    """`users` sessions each start `per_user` jobs at once and wait on them with get_job."""
    tokens = [f"scale-{i}" for i in range(users)]
    opened = [0]
    all_open, go = anyio.Event(), anyio.Event()
    returned: dict[str, float] = {}
    jobs: dict[str, list[str]] = {token: [] for token in tokens}
    unfinished, notifications = [0], [0]
    origin = api.removesuffix("/v1")
    url, pid = server.url, server.process.pid

    async def progress(_done: float, _total: float | None, _message: str | None) -> None:
        notifications[0] += 1

    async def create(rest: httpx.AsyncClient, limiter: anyio.CapacityLimiter, token: str) -> None:
        jobs[token].append(await _create_job(rest, limiter, api, token))

    async def wait_on(mcp: Client, job_id: str) -> None:
        result = await mcp.call_tool(
            "get_job", {"job_id": job_id, "wait_seconds": budget}, progress_callback=progress
        )
        returned[job_id] = time.time()
        finished = (result.structured_content or {}).get("finished")
        unfinished[0] += result.is_error or not finished

    async def user(token: str) -> None:
        async with (
            _mcp_http(token, budget + 60) as http,
            Client(streamable_http_client(url, http_client=http), mode="legacy") as mcp,
        ):
            for _ in range(WARMUP_CALLS):
                await mcp.call_tool("get_job", {"job_id": warm[token], "wait_seconds": 0})
            opened[0] += 1
            if opened[0] == users:
                all_open.set()
            await go.wait()
            async with anyio.create_task_group() as group:
                for job_id in jobs[token]:
                    group.start_soon(wait_on, mcp, job_id)

    async with _rest_client() as rest:
        async with anyio.create_task_group() as group:
            for token in tokens:
                group.start_soon(user, token)
            await all_open.wait()
            await anyio.sleep(0.2)  # let the warm-up's followers end
            before = (await rest.get(f"{origin}/_bench/requests")).json()
            rss_before, cpu = _memory_mib(pid, "VmRSS"), _cpu_seconds(pid)
            client_cpu, first = time.process_time(), time.time()
            limiter = anyio.CapacityLimiter(IN_FLIGHT)
            async with anyio.create_task_group() as creating:  # the jobs start, then the waits
                for token in tokens:
                    for _ in range(per_user):
                        creating.start_soon(create, rest, limiter, token)
            ramp = time.time() - first
            go.set()
        cpu = _cpu_seconds(pid) - cpu
        client_cpu = time.process_time() - client_cpu
        rss_growth = _memory_mib(pid, "VmHWM") - rss_before
        after = (await rest.get(f"{origin}/_bench/requests")).json()
        stopped = (await rest.get(f"{origin}/_bench/stopped")).json()
    seen = await anyio.to_thread.run_sync(_ends_recorded, server.history)
    return WaitRound(
        jobs=users * per_user,
        wall=max(returned.values()) - first,
        ramp=ramp,
        late=[returned[job] - stopped[job] for job in returned if job in stopped],
        seen_late=[seen[job] - stopped[job] for job in returned if job in seen],
        client_cpu=client_cpu,
        reads=after.get("GET 200", 0) - before.get("GET 200", 0),
        limited=sum(after.get(k, 0) - before.get(k, 0) for k in after if k.endswith(" 429")),
        unfinished=unfinished[0],
        notifications=notifications[0],
        rss_before=rss_before,
        rss_growth=rss_growth,
        cpu=cpu,
    )


def _ends_recorded(history: Path) -> dict[str, float]:
    """When the server recorded each job's end in its history (its own clock, as ours)."""
    with closing(sqlite3.connect(history)) as db:
        rows = db.execute("SELECT job_id, at FROM job_events WHERE state = 'stopped'").fetchall()
    return {job: datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() for job, at in rows}


# -- setup ---------------------------------------------------------------------------------


# httpx's pool scans its queue for every request: few requests in flight keep it fast.
IN_FLIGHT = 16


def _rest_client() -> httpx.AsyncClient:
    # Idle connections are dropped before the sandbox's (uvicorn's 5 s) keep-alive ends them.
    limits = httpx.Limits(
        max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT, keepalive_expiry=1.0
    )
    return httpx.AsyncClient(limits=limits, timeout=60)


async def _create_job(
    rest: httpx.AsyncClient, limiter: anyio.CapacityLimiter, api: str, token: str
) -> str:
    """A job of the sandbox's duration, started with the token's owner."""
    async with limiter:
        created = await rest.post(
            f"{api}/jobs/import/project_media",
            json={"project_name": "scale"},
            headers=_headers(token),
        )
    return created.raise_for_status().json()["job_id"]


async def _create_jobs(api: str, tokens: list[str]) -> list[str]:
    """A job for each token (instant ones: the sandbox starts fast), all finished on return."""
    async with _rest_client() as rest:
        jobs, limiter = [""] * len(tokens), anyio.CapacityLimiter(IN_FLIGHT)

        async def create(index: int) -> None:
            jobs[index] = await _create_job(rest, limiter, api, tokens[index])

        async with anyio.create_task_group() as group:
            for index in range(len(tokens)):
                group.start_soon(create, index)
        origin = api.removesuffix("/v1")
        for _ in range(3000):
            stopped = (await rest.get(f"{origin}/_bench/stopped")).json()
            if all(job in stopped for job in jobs):
                return jobs
            await anyio.sleep(0.02)
    raise RuntimeError("the sandbox's jobs did not finish")


def _load_rows(label: str, measured: Measured, idle: float, peak: float) -> list[tuple[str, str]]:
    results, server_cpu = measured
    latencies = [s for r in results for s in r.latencies]
    calls = len(latencies)
    seconds = _seconds(results)
    client_cpu = sum(r.cpu for r in results)
    errors = sum(r.errors for r in results)
    return [
        (
            f"{label}: calls/s, p50, p99",
            f"{calls / seconds:.0f}/s, {statistics.median(latencies) * 1000:.0f} ms, "
            f"{_percentile(latencies, 0.99) * 1000:.0f} ms ({calls} calls"
            + (f", {errors} errors)" if errors else ")"),
        ),
        (
            f"{label}: CPU per call, server / load generators",
            f"{server_cpu / calls * 1000:.2f} ms / {client_cpu / calls * 1000:.2f} ms "
            f"({server_cpu / seconds:.0%} / {client_cpu / seconds:.0%} of a CPU)",
        ),
        (f"{label}: server RSS idle, peak", f"{idle:.0f} MiB, {peak:.0f} MiB"),
    ]


def _seconds(results: list[LoadResult]) -> float:
    return max(r.ended for r in results) - min(r.started for r in results)


def _throughput(measured: Measured) -> float:
    results, _ = measured
    return sum(len(r.latencies) for r in results) / _seconds(results)


def _cpu_per_call(measured: Measured) -> float:
    results, cpu = measured
    return cpu / sum(len(r.latencies) for r in results)


def run(quick: bool) -> list[tuple[str, str]]:
    started = time.monotonic()
    plan = QUICK if quick else FULL
    tokens = [f"scale-{i}" for i in range(max(plan.users, max(plan.sizes) // plan.per_user))]
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        home = Path(folder)
        (home / "sandbox.py").write_text(SANDBOX)
        (home / "floor.py").write_text(FLOOR)
        generators = Generators(GENERATORS)
        stack.callback(generators.close)
        sandbox_port = free_port()
        arguments = map(str, (sandbox_port, len(tokens)))
        sandbox = stack.enter_context(
            background([sys.executable, str(home / "sandbox.py"), *arguments])
        )
        api = f"http://127.0.0.1:{sandbox_port}/v1"
        # Every server starts at once; each size of the waiters' test gets a fresh one.
        servers: dict[str, Server] = {}
        for name in ("floor", "sessions", *(f"wait-{size}" for size in plan.sizes)):
            port = free_port()
            history = home / f"{name}.sqlite3"
            command = (
                [sys.executable, str(home / "floor.py"), str(port)]
                if name == "floor"
                else serve_command(port, api, history)
            )
            process = background(command, env={**os.environ, **TRUSTED})
            servers[name] = Server(port, stack.enter_context(process), history)
        wait_listening(sandbox_port, sandbox, timeout=60)
        session_tokens = [tokens[i % plan.users] for i in range(plan.sessions)]
        jobs = anyio.run(_create_jobs, api, session_tokens)  # finished ones, for get_job to read
        httpx.post(f"{api.removesuffix('/v1')}/_bench/duration/{plan.duration}").raise_for_status()
        for server in servers.values():
            wait_listening(server.port, server.process, timeout=60)
        waits = [_waiters(servers[f"wait-{size}"], api, size, plan, jobs) for size in plan.sizes]
        rows = _sessions(
            plan, servers, sandbox.pid, list(zip(session_tokens, jobs, strict=True)), generators
        )
    rows += _wait_rows(waits, plan.duration)
    rows.append(("scale benchmark run time", f"{time.monotonic() - started:.1f} s"))
    return rows


def _waiters(server: Server, api: str, size: int, plan: Plan, jobs: list[str]) -> WaitRound:
    users = size // plan.per_user
    warm = {f"scale-{i}": jobs[i % len(jobs)] for i in range(users)}  # any job of the drive
    budget = plan.duration * 4 + 20
    try:
        return anyio.run(_wait_round, server, api, users, plan.per_user, warm, budget)
    finally:
        server.process.terminate()  # its CPU is the next size's


def _sessions(
    plan: Plan,
    servers: dict[str, Server],
    sandbox_pid: int,
    sessions: list[tuple[str, str]],
    generators: Generators,
) -> list[tuple[str, str]]:
    """Each session calls its tool `plan.calls` times, floor and get_job in turn."""
    idle = {name: _memory_mib(servers[name].process.pid, "VmRSS") for name in ("floor", "sessions")}
    best: dict[str, Measured] = {}
    sandbox_cpu = 0.0
    for _ in range(plan.rounds):
        for name, tool in (("floor", "ping"), ("sessions", "get_job")):
            server = servers[name]
            shares: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in range(GENERATORS)]
            for index, (token, job_id) in enumerate(sessions):
                arguments = {"job_id": job_id, "wait_seconds": 0} if tool == "get_job" else {}
                shares[index % GENERATORS].append((token, arguments))
            before = _cpu_seconds(sandbox_pid)
            loads = [Load(server.url, tool, share, plan.calls) for share in shares]
            measured = generators.run(loads, server.process.pid)
            if name not in best or _throughput(measured) > _throughput(best[name]):
                best[name] = measured
                if name == "sessions":
                    sandbox_cpu = _cpu_seconds(sandbox_pid) - before
    head = f"{plan.sessions} HTTP sessions"
    rows: list[tuple[str, str]] = []
    for name, label in (
        ("floor", f"{head}, trivial tool on bare MCPServer (floor)"),
        ("sessions", f"{head} ({plan.users} tokens), get_job"),
    ):
        peak = _memory_mib(servers[name].process.pid, "VmHWM")
        rows += _load_rows(label, best[name], idle[name], peak)
    calls = sum(len(r.latencies) for r in best["sessions"][0])
    ours, floor = best["sessions"], best["floor"]
    return [
        *rows,
        (f"{head}, get_job: sandbox CPU per call", f"{sandbox_cpu / calls * 1000:.2f} ms"),
        (
            f"{head}: get_job/floor throughput (goal >= 0.7)",
            f"{_throughput(ours) / _throughput(floor):.2f}x",
        ),
        (
            f"{head}: get_job/floor server CPU per call",
            f"{_cpu_per_call(ours) / _cpu_per_call(floor):.2f}x",
        ),
    ]


def _wait_rows(rounds: list[WaitRound], duration: float) -> list[tuple[str, str]]:
    rows = []
    for r in rounds:
        label = f"{r.jobs} jobs of {duration:g} s waited on at once"
        rows += [
            (
                f"{label}: first start to last answer",
                f"{r.wall:.1f} s (all started within {r.ramp:.1f} s)"
                + (f", {r.unfinished} unfinished" if r.unfinished else ""),
            ),
            (
                f"{label}: end seen late p50, p99",
                f"server {_ms(r.seen_late, 0.5)}, {_ms(r.seen_late, 0.99)} ms; "
                f"client {_ms(r.late, 0.5)}, {_ms(r.late, 0.99)} ms",
            ),
            (
                f"{label}: per job API reads, progress notes",
                f"{r.reads / r.jobs:.1f}, {r.notifications / r.jobs:.1f}"
                + (f" ({r.limited} answered 429)" if r.limited else ""),
            ),
            (
                f"{label}: CPU per job, server / client",
                f"{r.cpu / r.jobs * 1000:.1f} ms / {r.client_cpu / r.jobs * 1000:.1f} ms "
                f"({r.cpu / r.wall:.0%} / {r.client_cpu / r.wall:.0%} of a CPU)",
            ),
            (
                f"{label}: server peak RSS growth",
                f"+{r.rss_growth:.1f} MiB over {r.rss_before:.0f} MiB, "
                f"{r.rss_growth * 1024 / r.jobs:.0f} KiB per job",
            ),
        ]
    if len(rounds) >= 2:
        first, last = rounds[0], rounds[-1]
        marginal = (last.rss_growth - first.rss_growth) * 1024 / (last.jobs - first.jobs)
        rows.append(
            (
                f"waiters: RSS growth per job from {first.jobs} to {last.jobs} jobs",
                f"{marginal:.0f} KiB",
            )
        )
    return rows


def _ms(samples: list[float], fraction: float) -> str:
    return f"{_percentile(samples, fraction) * 1000:.0f}" if samples else "-"


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    for name, figure in run(quick):
        print(f"  {name}  {figure}")
