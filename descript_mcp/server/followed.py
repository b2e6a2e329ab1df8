"""One job followed by the tracker (`tracker.py`): its latest reading or failure, and the
events its waiters, its poll loop and the other replicas' announcements meet on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from descript_mcp.client.waiter import ProgressUpdate
from descript_mcp.errors import DescriptError

if TYPE_CHECKING:
    from descript_mcp.client.models import Job

# A waiter arriving when the last reading is older than this asks the follower for a fresh one,
# so a job whose callback was lost, or that is polled rarely by now, is not reported stale.
FRESH_FOR = 2.0


@dataclass
class Followed:
    job_id: str
    owner: str
    latest: ProgressUpdate | None = None
    error: DescriptError | None = None
    done: bool = False
    changed: anyio.Event = field(default_factory=anyio.Event)
    polling: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    read_at: float | None = None  # anyio's clock, when the last poll ended
    poked: anyio.Event = field(default_factory=anyio.Event)
    heard: anyio.Event = field(default_factory=anyio.Event)  # another replica changed it
    leading: bool = False  # this replica holds the job's lease and polls it
    leadership: anyio.CancelScope | None = None  # while leading: cancelled to hand it over
    lease_taken: bool = False  # the lease was taken over for this watcher: lead at once

    @property
    def job(self) -> Job | None:
        return self.latest.job if self.latest else None

    def signal(self) -> None:
        self.changed.set()
        self.changed = anyio.Event()

    def take_recorded(self, job: Job) -> bool:
        """A reading of the job from the history: taken, waking the waiters, if it says
        something the latest did not; True if so."""
        latest = self.job
        if latest is not None and _reading(latest) == _reading(job):
            return False
        label = job.progress.label if job.progress else None
        percent = job.progress.percent if job.progress else None
        self.latest = ProgressUpdate(job.job_id, job.job_state, label, percent, 0.0, job)
        self.error = None
        self.signal()
        return True

    async def until_next_poll(self, seconds: float) -> None:
        """The pause after a poll: over when it has passed, or when a waiter pokes."""
        self.read_at, self.poked = anyio.current_time(), anyio.Event()
        with anyio.move_on_after(seconds):
            await self.poked.wait()

    def hear(self) -> None:
        self.heard.set()
        self.heard = anyio.Event()

    def lead_now(self) -> None:
        """This replica took the job's lease over: its watcher leads at once."""
        self.lease_taken = True
        self.hear()

    def refresh_if_stale(self) -> None:
        if self.read_at is not None and anyio.current_time() - self.read_at > FRESH_FOR:
            self.poked.set()


def _reading(job: Job) -> tuple[object, ...]:
    progress = job.progress
    return (
        job.job_state,
        progress.label if progress else None,
        progress.percent if progress else None,
        getattr(job, "result", None),
    )
