"""Waiting for a job: poll with backoff until it stops, is cancelled, or a deadline passes."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio

from descript_mcp.errors import RateLimitError

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient
    from descript_mcp.client.models import Job


@dataclass(frozen=True)
class PollSchedule:
    """Poll every `initial` seconds while a job is young (most finish fast, and their end
    should be seen within a poll), then back off by `factor` up to `maximum`, to spare the
    rate limit on long jobs."""

    initial: float = 1.0
    factor: float = 1.3
    maximum: float = 10.0
    steady_for: float = 15.0

    def intervals(self) -> Iterator[float]:
        interval, elapsed = self.initial, 0.0
        while True:
            yield interval
            elapsed += interval
            if elapsed >= self.steady_for:
                interval = min(self.maximum, interval * self.factor)


@dataclass(frozen=True)
class ProgressUpdate:
    """A change in a job's state or progress, as Descript reported it."""

    job_id: str
    job_state: str
    label: str | None
    percent: float | None
    elapsed: float
    job: Job


ProgressCallback = Callable[[ProgressUpdate], Awaitable[None] | None]


async def wait_for_job(
    client: DescriptClient,
    job_id: str,
    *,
    max_wait: float | None = None,
    on_progress: ProgressCallback | None = None,
    schedule: PollSchedule | None = None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    clock: Callable[[], float] = time.monotonic,
    between_polls: Callable[[float], Awaitable[None]] | None = None,
) -> Job:
    """Poll `job_id` until it is terminal or `max_wait` seconds pass; return the last state seen.

    The caller tells the two outcomes apart with `job.is_terminal`. Cancelling the caller stops
    the waiting, never the Descript job. `between_polls` (default: `sleep`) waits out the pause
    between two polls, and may end it early; a `Retry-After` is always waited out in full.
    """
    between_polls = between_polls or sleep
    started = clock()
    deadline = None if max_wait is None else started + max_wait
    last_seen: tuple[str, str | None, float | None] | None = None
    intervals = (schedule or PollSchedule()).intervals()
    limited = 0  # 429s in a row
    while True:
        try:
            job = await client.get_job(job_id)
        except RateLimitError as error:
            pause = error.retry_after
            if pause is None:
                pause = client.retry.rate_limit_backoff(limited)
            limited += 1
            if deadline is not None and clock() + pause > deadline:
                raise
            await sleep(pause)
            continue
        limited = 0
        progress = job.progress
        seen = (
            job.job_state,
            progress.label if progress else None,
            progress.percent if progress else None,
        )
        if seen != last_seen and on_progress is not None:
            update = ProgressUpdate(job_id, *seen, elapsed=clock() - started, job=job)
            outcome = on_progress(update)
            if inspect.isawaitable(outcome):
                await outcome
        last_seen = seen
        if job.is_terminal:
            return job
        pause = next(intervals)
        if deadline is not None:
            remaining = deadline - clock()
            if remaining <= 0:
                return job
            pause = min(pause, remaining)
        await between_polls(pause)
