"""Finding the job of a job-creating request that failed ambiguously, without paying twice.

After a 5xx, a timeout or an unreadable answer the job may or may not exist. Recovery looks for
it in GET /jobs, and claims one only when it can show the job is this submission's:

- created between the moment the request was sent and the moment its failure was seen, on
  Descript's clock (the offset read from its Date headers, allowing for their resolution and
  for a cache behind them, `ServerClock.window`);
- for the project the request named: by id; for a new project, by its exact name and its
  creation within that window; never for a new project without a name; a job of no project
  (a drive media import) is matched on the whole drive, as if the drive were its project;
- with no other submission of the same kind for the same project in flight or unconfirmed at
  the same time, in the ledger every process sharing the history writes to before it sends;
- the only such job, claimed by no other submission, on a project where no one else started a
  job of that kind in the ten minutes before or since (someone else working there could have
  made it).

Anything else ends as UnconfirmedSubmissionError, whatever failed while looking, naming every
job read that may be this submission's: the candidates (in the window) and, apart, the others
of its kind and place from around then (`nearby`), so that a job paid for is never unnamed,
even when a clock misled the window. What this cannot tell apart, without an idempotency key:
another client's first job of that kind on the project in ten minutes, created in the very
moment this request was in flight while Descript had not created this one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from descript_mcp.client.clock import in_window
from descript_mcp.client.http import RequestSender
from descript_mcp.client.ledger import DRIVE_KEY, Submission, SubmissionLedger, project_key
from descript_mcp.client.models import Job, Page, Project
from descript_mcp.errors import APIError, DescriptError, UnconfirmedSubmissionError

logger = logging.getLogger(__name__)

# A job of the same kind on the project by someone else this long before the request makes
# a lone job in the window unprovable: someone else is working there.
QUIET_FOR = 600.0
# An unconfirmed submission for a new project names, besides the candidates, the jobs of its
# kind (for a new project of a name, on projects of that name) created this long before the
# window or after it: a window misplaced by a Date later than DATE_LAG still leaves its job
# named. One for a known project, or the drive, names all such jobs since QUIET_FOR before.
NAMED_AROUND = 5.0
# Pages of GET /jobs (newest first) read at most while looking for a job.
MAX_PAGES = 10


class Lookups(Protocol):
    """What recovery asks of the client that submitted."""

    async def list_jobs_page(
        self, *, project_id: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[Job]: ...

    async def get_project(self, project_id: str) -> Project: ...

    async def cancel_job(self, job_id: str) -> None: ...


@dataclass(frozen=True)
class Target:
    """What a job-creating request asks for, as far as finding its job goes."""

    job_type: str
    project_id: str | None
    project_name: str | None = None
    needs_upload_urls: bool = False
    # A job of no project (a drive media import): told apart from the drive's other jobs.
    drive_wide: bool = False
    # What the 201 repeats of the request and the job list does not show (an export's format):
    # an answer rebuilt from the list has it too.
    echo: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str | None:
        """The ledger's name for what the job is on (`ledger.Submission.project_key`)."""
        return DRIVE_KEY if self.drive_wide else project_key(self.project_id, self.project_name)

    @property
    def scoped(self) -> bool:
        """Whether the job is looked for on one known project, or on the drive."""
        return self.project_id is not None or self.drive_wide

    def holds(self, job: Job) -> bool:
        """Whether the job is where this request's would be, as far as the job list shows."""
        if self.drive_wide:
            return True
        if self.project_id is not None:
            return job.project_id == self.project_id
        return self.project_name is None or job.project_id is not None

    @property
    def where(self) -> str:
        """Where the jobs named apart were looked for, in words."""
        if self.project_id is not None and not self.drive_wide:
            return "on this project"
        return "on projects of the same name" if self.project_name else "on the drive"


@dataclass
class _Finding:
    job: Job | None
    candidates: list[str]  # in the window: could be the submission's
    reason: str
    final: bool  # waiting longer cannot change the outcome


class Recovery:
    """The search for one failed submission's job. It keeps every job it reads that may be
    that job (its kind and place as far as known, no other submission's) across looks, and
    whatever ends them: all are named to the caller unless one is claimed."""

    def __init__(
        self,
        client: Lookups,
        sender: RequestSender,
        ledger: SubmissionLedger,
        submission: Submission,
        target: Target,
        accepted: Mapping[str, tuple[float, float]],
    ) -> None:
        self._client, self._sender, self._ledger = client, sender, ledger
        self._submission, self._target = submission, target
        self._accepted = accepted  # jobs of ours: when each one's request was sent and answered
        self._seen: dict[str, Job] = {}
        self._unreadable: list[str] = []
        self._projects: dict[str, Project] = {}

    async def find(self, error: APIError, path: str) -> Job:
        """The submission's job, claimed in the ledger; or UnconfirmedSubmissionError, with
        the submission marked unconfirmed and every job it may be named (the caller records
        it)."""
        finding = _Finding(None, [], "no new job appeared", final=False)
        nearby: list[Job] | None = None
        try:
            with anyio.fail_after(self._sender.retry.recovery_timeout):
                for delay in self._sender.retry.recovery_delays:
                    await self._sender.sleep(delay)
                    finding = await self._look()
                    if finding.job is not None or finding.final:
                        break
                if finding.job is None:
                    nearby = await self._nearby(finding.candidates)
            if finding.job is not None and not await self._ledger.claim(
                self._submission, finding.job.job_id
            ):
                finding = _Finding(None, finding.candidates, "another call claimed it", True)
        except Exception as problem:  # whatever failed while looking, the job may exist
            reason = (
                "looking for it timed out"
                if isinstance(problem, TimeoutError)
                else f"looking for it failed too ({_describe(problem)})"
            )
            raise self._unconfirmed(error, path, reason, finding.candidates, None) from problem
        if finding.job is None:
            raise self._unconfirmed(error, path, finding.reason, finding.candidates, nearby)
        return finding.job

    async def _look(self) -> _Finding:
        """One look at the job list: the finding, from what it shows now."""
        target = self._target
        jobs, complete = await self._recent_jobs()
        window = self._window()
        if window is None:
            reason = "Descript's answers carry no Date header to place jobs in time"
            return _Finding(None, list(self._unreadable), reason, True)
        claimed = await self._ledger.claimed([job.job_id for job in jobs])
        for job_id in claimed:
            self._seen.pop(job_id, None)
        unclaimed = [job for job in jobs if job.job_id not in claimed]
        possible = [job for job in unclaimed if in_window(job.created_at, window)]
        if not target.scoped and target.project_name is not None:
            possible = [job for job in possible if await self._new_project(job, window)]
        candidates = [job.job_id for job in possible] + self._unreadable
        if not complete:
            reason = "too many jobs were started meanwhile to look through"
            return _Finding(None, candidates, reason, True)
        if self._unreadable:
            return _Finding(None, candidates, "some jobs in the list could not be read", True)
        if not target.scoped and target.project_name is None:
            reason = "an import into a new project without a name cannot be told from others"
            return _Finding(None, candidates, reason, True)
        place = "drive" if target.drive_wide else "project"
        if await self._ledger.rivals(self._submission):
            reason = f"another submission of the same kind for this {place} was in flight"
            return _Finding(None, candidates, reason, True)
        if len(possible) > 1:
            return _Finding(None, candidates, "several jobs could be it", True)
        # Someone else works on this project: a lone job in the window may be theirs.
        others = [job for job in unclaimed if job not in possible] if target.scoped else []
        if others:
            reason = (
                f"another client started {len(others)} job(s) of this kind on this {place} "
                "around the same time"
            )
            return _Finding(None, candidates, reason, True)
        if not possible:
            return _Finding(None, [], "no new job appeared while the request was in flight", False)
        return _Finding(possible[0], candidates, "", True)

    async def _recent_jobs(self) -> tuple[list[Job], bool]:
        """The jobs of the request's kind and place, newest first: for a known project or the
        drive, since QUIET_FOR before the window; otherwise NAMED_AROUND either side of it.
        Each is kept as seen once its page is read, as is each entry that could not be read.
        And whether the list reached back that far within MAX_PAGES."""
        target = self._target
        reach = QUIET_FOR if target.scoped else NAMED_AROUND
        found: list[Job] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._client.list_jobs_page(
                project_id=target.project_id, limit=100, cursor=cursor
            )
            for job in page.items:  # ours show Descript's clock without a Date's lateness
                if job.job_id in self._accepted:
                    sent, answered = self._accepted[job.job_id]
                    clock = self._sender.server_clock
                    clock.observe_created(job.created_at, sent=sent, received=answered)
            # Lacking a Date, our clock is all there is to reckon back from.
            start, end = self._window() or (self._submission.sent_at, math.inf)
            since, until = start - reach, math.inf if target.scoped else end + reach
            for job in page.items:
                at = job.created_at.timestamp()
                if job.job_type == target.job_type and target.holds(job) and since <= at <= until:
                    found.append(job)
                    self._seen.setdefault(job.job_id, job)
            unread = [_raw_id(item) for item in page.unreadable]
            self._unreadable += [job_id for job_id in unread if job_id not in self._unreadable]
            if any(job.created_at.timestamp() < since for job in page.items):
                return found, True
            if not page.next_cursor:
                return found, True
            cursor = page.next_cursor
        return found, False

    def _window(self) -> tuple[float, float] | None:
        """When, on Descript's clock, the submission's job can have been created."""
        ended = self._submission.ended_at or time.time()
        return self._sender.server_clock.window(self._submission.sent_at, ended)

    async def _project(self, project_id: str) -> Project:
        if project_id not in self._projects:
            self._projects[project_id] = await self._client.get_project(project_id)
        return self._projects[project_id]

    async def _new_project(self, job: Job, window: tuple[float, float]) -> bool:
        """Whether the job is for a project of the requested name created in the window."""
        project = await self._project(job.project_id or "")
        return project.name == self._target.project_name and in_window(project.created_at, window)

    async def _nearby(self, candidates: list[str]) -> list[Job]:
        """The jobs seen that are not candidates; for a new project of a name, those of a
        project of that name, or whose project could not be read."""
        others = [job for job in self._seen.values() if job.job_id not in candidates]
        if self._target.scoped or self._target.project_name is None:
            return others
        kept = []
        for job in others:
            try:
                project = await self._project(job.project_id or "")
            except APIError:
                kept.append(job)
                continue
            if project.name == self._target.project_name:
                kept.append(job)
        return kept

    def _unconfirmed(
        self,
        error: APIError,
        path: str,
        reason: str,
        candidates: list[str],
        nearby: list[Job] | None,
    ) -> UnconfirmedSubmissionError:
        """The submission marked unconfirmed with every job named, and the error saying so.
        `nearby` None: the search ended before they were sorted, so every one seen is named."""
        candidates = candidates + [u for u in self._unreadable if u not in candidates]
        if nearby is None:
            nearby = [job for job in self._seen.values() if job.job_id not in candidates]
        around = [job.job_id for job in nearby]
        self._submission.state = "unconfirmed"
        self._submission.candidates = tuple(candidates + around)
        found = f" Candidates: {', '.join(candidates)}." if candidates else ""
        if around:
            found += (
                f" Other jobs of this kind {self._target.where} from around then (another "
                f"client's, most likely, but not shown to be): {', '.join(around)}."
            )
        return UnconfirmedSubmissionError(
            f"{str(error).rstrip('.')}. Descript may or may not have created the job, and "
            f"none could be shown to be this request's: {reason}.{found} Do not submit it "
            "again, which could pay twice: check the job list first.",
            method="POST",
            path=path,
            cause=error,
            candidates=candidates,
            nearby=around,
        )


def _raw_id(item: Any) -> str:
    job_id = item.get("job_id") if isinstance(item, dict) else None
    return job_id if isinstance(job_id, str) and job_id else "(an unreadable job)"


def _describe(problem: BaseException) -> str:
    """What failed, in words a caller may read: never an internal exception's name."""
    if isinstance(problem, APIError):
        return problem.message
    if isinstance(problem, DescriptError):  # the history unreachable, say
        return str(problem)
    return "an unexpected error on this server"
