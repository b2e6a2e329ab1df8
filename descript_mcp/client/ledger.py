"""The ledger of submissions: every job-creating request is written to it before it is sent,
so that whoever shares it (the calls of one client, the processes and replicas sharing one job
history) sees the others' in flight, and the same submission twice can be refused.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import OrderedDict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from descript_mcp.errors import DuplicateSubmissionError

SubmissionState = Literal["sending", "accepted", "failed", "unconfirmed", "cancelled"]

# A submission still "sending" after this long belongs to a process that died mid-request.
IN_FLIGHT_AT_MOST = 300.0
# How far the clocks of processes sharing a ledger may disagree.
PEER_MARGIN = 2.0


@dataclass(frozen=True)
class DedupeKey:
    """What makes two submissions the same (a fingerprint of the caller and what it asked),
    and for how long after one a second is refused."""

    fingerprint: str
    window: float = 600.0


@dataclass
class Submission:
    """One job-creating request, from before it is sent until its job is known (or not)."""

    job_type: str
    # "id:<project id>", "name:<new project's name>", DRIVE_KEY for a job of no project; None
    # for a new project without a name.
    project_key: str | None
    dedupe: DedupeKey | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    state: SubmissionState = "sending"
    sent_at: float = field(default_factory=time.time)  # our wall clock
    ended_at: float | None = None  # when its answer or its failure was seen
    job_id: str | None = None
    candidates: tuple[str, ...] = ()

    def in_flight(self, now: float) -> bool:
        return self.state == "sending" and now - self.sent_at <= IN_FLIGHT_AT_MOST


# The key of jobs of no project (drive media imports). The client need not know its drive to
# use it: submissions on two drives sharing a ledger are taken for rivals, which fails safe.
DRIVE_KEY = "drive"


def project_key(project_id: str | None, project_name: str | None) -> str | None:
    if project_id:
        return f"id:{project_id}"
    return f"name:{project_name}" if project_name else None


def overlaps(mine: Submission, other: Submission, now: float) -> bool:
    """Whether `other` could have created, while `mine` was in flight, a job that looks like
    the one `mine` asked for: same kind, same project, its outcome unknown, times overlapping."""
    if other.id == mine.id or other.project_key is None:
        return False
    if (other.job_type, other.project_key) != (mine.job_type, mine.project_key):
        return False
    if other.state not in ("sending", "unconfirmed"):
        return False
    other_end = other.ended_at or min(now, other.sent_at + IN_FLIGHT_AT_MOST)
    mine_end = mine.ended_at or now
    return other.sent_at <= mine_end + PEER_MARGIN and other_end >= mine.sent_at - PEER_MARGIN


def refuse_repeat(earlier: Iterable[Submission], key: DedupeKey, now: float) -> None:
    """Raise DuplicateSubmissionError if one of `earlier` was the same submission, within the
    key's window, and accepted, in flight or unconfirmed."""
    for other in sorted(earlier, key=lambda s: s.sent_at, reverse=True):
        if other.dedupe is None or other.dedupe.fingerprint != key.fingerprint:
            continue
        if other.sent_at < now - key.window or other.state in ("failed", "cancelled"):
            continue
        raise DuplicateSubmissionError(_repeat_message(other, now), earlier=other)


def _repeat_message(earlier: Submission, now: float) -> str:
    when = time.strftime("%H:%M:%S UTC", time.gmtime(earlier.sent_at))
    if earlier.state == "accepted":
        return f"The same request was submitted at {when} as job {earlier.job_id}."
    if earlier.in_flight(now):
        return (
            f"The same request is being submitted right now (since {when}); its job will be in "
            "the job list within moments."
        )
    found = ", ".join(earlier.candidates) or "none found"
    return (
        f"The same request was submitted at {when} and Descript may or may not have created "
        f"its job (candidates: {found})."
    )


class SubmissionLedger(Protocol):
    """Where submissions are written before they are sent, so that every process sharing it
    sees the others' (the job history is one; `InMemoryLedger` serves a single process)."""

    async def begin(self, submission: Submission) -> None:
        """Record a submission about to be sent; raise DuplicateSubmissionError if its dedupe
        key repeats an earlier one (checked and recorded in one step)."""

    async def settle(self, submission: Submission) -> None:
        """Record a submission's new state."""

    async def claim(self, submission: Submission, job_id: str) -> bool:
        """Make `job_id` this submission's, accepted, unless another submission has it."""

    async def rivals(self, submission: Submission) -> list[Submission]:
        """Other submissions that `overlaps` says could have made this one's job."""

    async def claimed(self, job_ids: Collection[str]) -> set[str]:
        """Those of `job_ids` that some submission has as its own."""

    async def cancelled(self, job_id: str) -> None:
        """The submission of `job_id`, if any, was cancelled: it no longer repeats."""


class InMemoryLedger:
    """The ledger of one process: the default of a client on its own. Clients that work on
    the same drive see each other's submissions only if they share a ledger."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._submissions: OrderedDict[str, Submission] = OrderedDict()

    async def begin(self, submission: Submission) -> None:
        if submission.dedupe is not None:
            refuse_repeat(self._submissions.values(), submission.dedupe, time.time())
        await self.settle(submission)
        while len(self._submissions) > self._size:
            self._submissions.popitem(last=False)

    async def settle(self, submission: Submission) -> None:
        self._submissions[submission.id] = dataclasses.replace(submission)

    async def claim(self, submission: Submission, job_id: str) -> bool:
        if any(s.job_id == job_id and s.id != submission.id for s in self._submissions.values()):
            return False
        submission.state, submission.job_id = "accepted", job_id
        await self.settle(submission)
        return True

    async def rivals(self, submission: Submission) -> list[Submission]:
        now = time.time()
        return [s for s in self._submissions.values() if overlaps(submission, s, now)]

    async def claimed(self, job_ids: Collection[str]) -> set[str]:
        return {
            s.job_id
            for s in self._submissions.values()
            if s.job_id is not None and s.job_id in job_ids
        }

    async def cancelled(self, job_id: str) -> None:
        for submission in self._submissions.values():
            if submission.job_id == job_id:
                submission.state = "cancelled"
