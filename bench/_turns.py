"""Timing servers against each other: each job's call made through every server in turn, the
order rotated from one job to the next, so that the machine's busy spells (several processes on
two CPUs) fall on all of them alike, and none is measured in a quieter spell or always in the
same place of the turn."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from mcp import Client

Call = Callable[[str], Awaitable[object]]
# The first jobs warm connections and caches, and are not timed.
WARMUP = 20


async def in_turn(calls: Sequence[Call], jobs: list[str]) -> list[list[float]]:
    """The seconds each call took on each job after the first WARMUP, a list per call."""
    for job_id in jobs[:WARMUP]:
        for call in calls:
            await call(job_id)
    timed: list[list[float]] = [[] for _ in calls]
    for number, job_id in enumerate(jobs[WARMUP:]):
        first = number % len(calls)
        order = list(enumerate(calls))
        for index, call in order[first:] + order[:first]:
            started = time.perf_counter()
            await call(job_id)
            timed[index].append(time.perf_counter() - started)
    return timed


def get_job_through(mcp: Client) -> Call:
    """A get_job call through this MCP client, the one the benchmarks time."""
    return lambda job_id: mcp.call_tool("get_job", {"job_id": job_id})
