"""The history in PostgreSQL against SQLite, in one process (baseline: SQLite in the same run).

- `get_job` over streamable HTTP, each call reading a different stopped job (a GET and a write to
  the history): latency p50/p99, and CPU per call of the server process, and of PostgreSQL's
  own processes beside it. Goal: PostgreSQL within 1.2x of SQLite. The two servers run side
  by side and each job is read through both in turn, so that the machine's busy spells fall
  on both.
- `descript://jobs` and job id completion with 1,000,000 jobs in PostgreSQL (100,000 in the
  quick run), against 100. Goal: under 20 ms.

PostgreSQL is a throwaway server from Debian's package (tests/postgres.py); without it, these
rows say so and are skipped.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import psycopg
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._sandbox import TOKEN, http_server, sandbox_process, stopped_jobs
from bench._turns import WARMUP, get_job_through, in_turn
from bench.history import timings
from descript_mcp.history import History
from descript_mcp.history.records import owner_of
from descript_mcp.settings import Settings
from tests.postgres import ThrowawayPostgres, binaries


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def _postgres_pids(postgres: ThrowawayPostgres) -> list[int]:
    main = int((postgres.data / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == main:
            children.append(int(stat.parent.name))
    return [main, *children]


@asynccontextmanager
async def _client(port: int) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http)) as mcp,
    ):
        yield mcp


async def _get_jobs(ports: list[int], jobs: list[str]) -> list[list[float]]:
    """Each job read through each server in turn; the samples per server."""
    async with AsyncExitStack() as stack:
        servers = [await stack.enter_async_context(_client(port)) for port in ports]
        return await in_turn([get_job_through(mcp) for mcp in servers], jobs)


def _calls(
    api: str, jobs: list[str], home: Path, postgres: ThrowawayPostgres | None
) -> dict[str, tuple[list[float], float, float]]:
    """Per backend: the samples, server CPU per call, PostgreSQL CPU per call. The servers of
    both backends run side by side."""
    backends = {"sqlite": None} | (
        {"postgresql": postgres.new_database()} if postgres is not None else {}
    )
    with ExitStack() as stack:
        served = {
            backend: stack.enter_context(
                http_server(
                    api,
                    home,
                    {"DESCRIPT_API_KEY": TOKEN}
                    | ({"DESCRIPT_MCP_DATABASE_URL": database} if database else {}),
                )
            )
            for backend, database in backends.items()
        }
        watched = _postgres_pids(postgres) if postgres is not None else []
        pids = {backend: process.pid for backend, (_, process) in served.items()}
        before = {backend: _cpu_seconds([pid]) for backend, pid in pids.items()}
        before_db = _cpu_seconds(watched)
        samples = anyio.run(_get_jobs, [port for port, _ in served.values()], jobs)
        calls = len(jobs)
        cpu_db = (_cpu_seconds(watched) - before_db) / calls
        return {
            backend: (
                timed,
                (_cpu_seconds([pids[backend]]) - before[backend]) / calls,
                cpu_db if backend == "postgresql" else 0.0,
            )
            for backend, timed in zip(served, samples, strict=True)
        }


def _fill(postgres: ThrowawayPostgres, count: int) -> str:
    database = postgres.new_database()
    anyio.run(_migrate, database)
    with psycopg.connect(database) as db:
        db.execute(
            "INSERT INTO jobs (job_id, owner, job_type, tool, state, created_at, updated_at) "
            "SELECT 'project-media-import-' || lpad(n::text, 8, '0'), %s, "
            "'import/project_media', 'import_media', 'stopped', "
            "'2026-' || lpad((1 + n %% 12)::text, 2, '0') || '-01T00:00:' "
            "|| lpad((n %% 60)::text, 2, '0') || '.000Z', '2026-11-01T00:00:00.000Z' "
            "FROM generate_series(0, %s - 1) AS n",
            (owner_of(TOKEN), count),
        )
        db.execute("ANALYZE jobs")
    return database


async def _migrate(database: str) -> None:
    await (await History.open(Path("unused"), database)).aclose()


def _reads(database: str, repeats: int) -> tuple[float, float]:
    return anyio.run(timings, Settings(api_key=TOKEN, database_url=database), repeats)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def run(repeats: int, quick: bool = False) -> list[tuple[str, str]]:
    found = binaries()
    if found is None:
        return [("storage: PostgreSQL", "not installed (apt-get install postgresql): skipped")]
    postgres = ThrowawayPostgres(found)
    postgres.start()
    rows: list[tuple[str, str]] = []
    try:
        with tempfile.TemporaryDirectory() as folder, sandbox_process() as api:
            jobs = stopped_jobs(api, WARMUP + repeats)
            results = _calls(api, jobs, Path(folder), postgres)
        (base, base_cpu, _), (pg, pg_cpu, pg_db_cpu) = results["sqlite"], results["postgresql"]
        base_p50, base_p99 = _percentiles(base)
        pg_p50, pg_p99 = _percentiles(pg)
        rows += [
            (
                "storage: get_job, SQLite (baseline)",
                f"p50 {base_p50:.2f} ms, p99 {base_p99:.2f} ms, server CPU "
                f"{base_cpu * 1000:.2f} ms a call",
            ),
            (
                "storage: get_job, PostgreSQL (goal within 1.2x)",
                f"p50 {pg_p50:.2f} ms ({pg_p50 / base_p50:.2f}x), p99 {pg_p99:.2f} ms "
                f"({pg_p99 / base_p99:.2f}x), server CPU {pg_cpu * 1000:.2f} ms "
                f"({pg_cpu / base_cpu:.2f}x) + PostgreSQL's {pg_db_cpu * 1000:.2f} ms",
            ),
        ]
        big = 100_000 if quick else 1_000_000
        small_read, small_done = _reads(_fill(postgres, 100), repeats)
        big_read, big_done = _reads(_fill(postgres, big), repeats)
        rows += [
            ("storage: descript://jobs, 100 jobs in PostgreSQL (baseline)", f"{small_read:.1f} ms"),
            (
                f"storage: descript://jobs, {big:,} jobs in PostgreSQL (goal < 20 ms)",
                f"{big_read:.1f} ms ({big_read / small_read:.2f}x)",
            ),
            ("storage: job id completion, 100 jobs (baseline)", f"{small_done:.1f} ms"),
            (
                f"storage: job id completion, {big:,} jobs (goal < 20 ms)",
                f"{big_done:.1f} ms ({big_done / small_done:.2f}x)",
            ),
        ]
    finally:
        postgres.stop()
    return rows


if __name__ == "__main__":
    for name, figure in run(repeats=200):
        print(f"{name:<60} {figure}")
