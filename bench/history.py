"""The job history at scale: `descript://jobs` and id completion through an MCP client, with
100,000 jobs in the store, against the same with 100 jobs. Goal: under 20 ms each."""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client
from mcp.types import ResourceTemplateReference

from descript_mcp.history import History
from descript_mcp.history.records import owner_of
from descript_mcp.server import build_server
from descript_mcp.settings import Settings

TOKEN = "bench-token"
REFERENCE = ResourceTemplateReference(type="ref/resource", uri="descript://jobs/{job_id}")


def _fill(path: Path, count: int) -> None:
    anyio.run(_create, path)
    owner = owner_of(TOKEN)
    rows = [
        (
            f"project-media-import-{n:08d}",
            owner,
            "import/project_media",
            "import_media",
            "stopped",
            f"2026-{1 + n % 12:02d}-01T00:00:{n % 60:02d}.000Z",
            "2026-11-01T00:00:00.000Z",
        )
        for n in range(count)
    ]
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO jobs (job_id, owner, job_type, tool, state, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


async def _create(path: Path) -> None:
    await (await History.open(path)).aclose()


async def timings(settings: Settings, repeats: int) -> tuple[float, float]:
    """Median ms of reading `descript://jobs` and of completing a job id, on this history."""
    async with Client(build_server(settings)) as mcp:
        reads, completions = [], []
        for n in range(repeats):
            started = time.perf_counter()
            await mcp.read_resource("descript://jobs")
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            await mcp.complete(
                REFERENCE, {"name": "job_id", "value": f"project-media-import-000{n % 10}"}
            )
            completions.append(time.perf_counter() - started)
    return statistics.median(reads) * 1000, statistics.median(completions) * 1000


def run(repeats: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as home:
        results = {}
        for count in (100, 100_000):
            path = Path(home) / f"h{count}.sqlite3"
            _fill(path, count)
            results[count] = anyio.run(timings, Settings(api_key=TOKEN, history_path=path), repeats)
    (small_read, small_done), (big_read, big_done) = results[100], results[100_000]
    rows += [
        ("history: descript://jobs, 100 jobs (baseline)", f"{small_read:.1f} ms"),
        (
            "history: descript://jobs, 100,000 jobs (goal < 20 ms)",
            f"{big_read:.1f} ms ({big_read / small_read:.2f}x)",
        ),
        ("history: job id completion, 100 jobs (baseline)", f"{small_done:.1f} ms"),
        (
            "history: job id completion, 100,000 jobs (goal < 20 ms)",
            f"{big_done:.1f} ms ({big_done / small_done:.2f}x)",
        ),
    ]
    return rows
