"""Submitting a job-creating request exactly once, with other clients on the same drive.

Descript has no idempotency key. After a 5xx or a timeout on a job-creating POST the job may or
may not exist, and sending again could pay twice; so the request is never sent again. Instead
recovery looks for the job in GET /jobs, and claims one only when it can show the job is this
submission's:

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

Anything else ends as UnconfirmedSubmissionError with the candidates, whatever failed while
looking. A job is cancelled only when proven to be this submission's. What this cannot tell
apart, without an idempotency key: another client's first job of that kind on the project in
ten minutes, created in the very moment this request was in flight while Descript had not
created this one.

A dedupe key guards against the same submission twice in a row (a caller that retries after a
timeout): the same key within its window of one accepted, in flight or unconfirmed is refused
with DuplicateSubmissionError naming the earlier one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import anyio
from pydantic import BaseModel

from descript_mcp.client.clock import in_window
from descript_mcp.client.http import RequestSender
from descript_mcp.client.ledger import (
    DRIVE_KEY,
    DedupeKey,
    Submission,
    SubmissionLedger,
    project_key,
)
from descript_mcp.client.models import Job, Page, Project
from descript_mcp.client.parsing import parse_model
from descript_mcp.client.retry import may_have_created
from descript_mcp.errors import (
    APIError,
    UnconfirmedSubmissionError,
    UploadURLsLostError,
)

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

# A job of the same kind on the project by someone else this long before the request makes
# a lone job in the window unprovable: someone else is working there.
QUIET_FOR = 600.0
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


@dataclass
class _Finding:
    job: Job | None
    candidates: list[str]
    reason: str
    final: bool  # waiting longer cannot change the outcome


class Submitter:
    """Sends job-creating requests exactly once, through a client and its ledger."""

    def __init__(self, client: Lookups, sender: RequestSender, ledger: SubmissionLedger) -> None:
        self._client = client
        self._sender = sender
        self._ledger = ledger

    async def submit(
        self,
        path: str,
        body: dict[str, Any],
        model: type[M],
        target: Target,
        dedupe: DedupeKey | None = None,
    ) -> M:
        submission = Submission(target.job_type, target.key, dedupe)
        await self._ledger.begin(submission)
        try:
            response = await self._sender.send("POST", path, idempotent=False, json=body)
            created = parse_model(model, response)
        except APIError as error:
            submission.ended_at = time.time()
            if not may_have_created(error):
                submission.state = "failed"
                await self._settle(submission)
                raise
            return model.model_validate(await self._recover(error, path, submission, target))
        submission.state, submission.ended_at = "accepted", time.time()
        submission.job_id = getattr(created, "job_id", None)
        await self._settle(submission)
        return created

    async def _settle(self, submission: Submission) -> None:
        """Record a submission's outcome. If the ledger fails, the outcome still reaches the
        caller; the ledger then keeps it as "sending", which others read as unknown too."""
        try:
            await self._ledger.settle(submission)
        except Exception:
            logger.exception(
                "could not record submission %s as %s", submission.id, submission.state
            )

    async def _recover(
        self, error: APIError, path: str, submission: Submission, target: Target
    ) -> dict[str, Any]:
        """The 201 answer the failed request would have had, rebuilt from the job list."""
        logger.warning("%s failed ambiguously (%s); looking for the job", path, error.message)
        finding = _Finding(None, [], "no new job appeared", final=False)
        try:
            with anyio.fail_after(self._sender.retry.recovery_timeout):
                for delay in self._sender.retry.recovery_delays:
                    await self._sender.sleep(delay)
                    finding = await self._look(submission, target)
                    if finding.job is not None or finding.final:
                        break
            if finding.job is not None and not await self._ledger.claim(
                submission, finding.job.job_id
            ):
                finding = _Finding(None, finding.candidates, "another call claimed it", True)
        except Exception as problem:  # whatever failed while looking, the job may exist
            await self._unconfirmed(submission, finding.candidates)
            reason = (
                "looking for it timed out"
                if isinstance(problem, TimeoutError)
                else f"looking for it failed too ({_describe(problem)})"
            )
            raise self._unconfirmed_error(error, path, reason, finding.candidates) from problem
        if finding.job is None:
            await self._unconfirmed(submission, finding.candidates)
            raise self._unconfirmed_error(error, path, finding.reason, finding.candidates)
        job = finding.job
        logger.warning("job %s is the one the failed %s created", job.job_id, path)
        if target.needs_upload_urls:
            raise await self._cancel_lost_uploads(error, path, job)
        answer: dict[str, Any] = {"job_id": job.job_id, "drive_id": job.drive_id}
        if not target.drive_wide:
            answer |= {"project_id": job.project_id or "", "project_url": job.project_url or ""}
        return answer | dict(target.echo)

    async def _look(self, submission: Submission, target: Target) -> _Finding:
        """One look at the job list: the finding, from what it shows now."""
        jobs, unreadable, complete = await self._recent_jobs(submission, target)
        window = self._window(submission)
        if window is None:
            reason = "Descript's answers carry no Date header to place jobs in time"
            return _Finding(None, [], reason, True)
        if not complete:
            return _Finding(None, [], "too many jobs were started meanwhile to look through", True)
        kind = [job for job in jobs if job.job_type == submission.job_type]
        claimed = await self._ledger.claimed([job.job_id for job in kind])
        unclaimed = [job for job in kind if job.job_id not in claimed]
        windowed = [job for job in unclaimed if in_window(job.created_at, window)]
        others: list[Job] = []
        if target.scoped:
            there = [j for j in unclaimed if target.drive_wide or j.project_id == target.project_id]
            possible = [job for job in windowed if job in there]
            others = [job for job in there if job not in possible]
        elif target.project_name is not None:
            possible = [job for job in windowed if await self._new_project(job, target, window)]
        else:
            possible = windowed
        candidates = [job.job_id for job in possible] + unreadable
        if unreadable:
            return _Finding(None, candidates, "some jobs in the list could not be read", True)
        if not target.scoped and target.project_name is None:
            reason = "an import into a new project without a name cannot be told from others"
            return _Finding(None, candidates, reason, True)
        place = "drive" if target.drive_wide else "project"
        if await self._ledger.rivals(submission):
            reason = f"another submission of the same kind for this {place} was in flight"
            return _Finding(None, candidates, reason, True)
        if len(possible) > 1:
            return _Finding(None, candidates, "several jobs could be it", True)
        if others:
            # Someone else works on this project: a lone job in the window may be theirs.
            reason = (
                f"another client started {len(others)} job(s) of this kind on this {place} "
                "around the same time"
            )
            return _Finding(None, candidates, reason, True)
        if not possible:
            return _Finding(None, [], "no new job appeared", False)
        return _Finding(possible[0], candidates, "", True)

    async def _recent_jobs(
        self, submission: Submission, target: Target
    ) -> tuple[list[Job], list[str], bool]:
        """Jobs of the request's project (or the drive), newest first, back to just before the
        request was sent (for a known project, or a job of no project, QUIET_FOR before); the
        ids of entries that could not be read; and whether the list reached back that far
        within MAX_PAGES."""
        reach = QUIET_FOR if target.scoped else 1.0
        jobs: list[Job] = []
        unreadable: list[str] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._client.list_jobs_page(
                project_id=target.project_id, limit=100, cursor=cursor
            )
            jobs += page.items
            unreadable += [_raw_id(item) for item in page.unreadable]
            window = self._window(submission)
            older = window is not None and any(
                job.created_at.timestamp() < window[0] - reach for job in page.items
            )
            if older or not page.next_cursor:
                return jobs, unreadable, True
            cursor = page.next_cursor
        return jobs, unreadable, False

    def _window(self, submission: Submission) -> tuple[float, float] | None:
        """When, on Descript's clock, the submission's job can have been created."""
        ended = submission.ended_at or time.time()
        return self._sender.server_clock.window(submission.sent_at, ended)

    async def _new_project(self, job: Job, target: Target, window: tuple[float, float]) -> bool:
        """Whether the job is for a project of the requested name created in the window."""
        if not job.project_id:
            return False
        project = await self._client.get_project(job.project_id)
        return project.name == target.project_name and in_window(project.created_at, window)

    async def _unconfirmed(self, submission: Submission, candidates: list[str]) -> None:
        submission.state, submission.candidates = "unconfirmed", tuple(candidates)
        await self._settle(submission)

    def _unconfirmed_error(
        self, error: APIError, path: str, reason: str, candidates: list[str]
    ) -> UnconfirmedSubmissionError:
        found = f" Candidates: {', '.join(candidates)}." if candidates else ""
        return UnconfirmedSubmissionError(
            f"{str(error).rstrip('.')}. Descript may or may not have created the job, and "
            f"none could be shown to be this request's: {reason}.{found} Do not submit it "
            "again, which could pay twice: check the job list first.",
            method="POST",
            path=path,
            cause=error,
            candidates=candidates,
        )

    async def _cancel_lost_uploads(self, error: APIError, path: str, job: Job) -> APIError:
        """The import is this request's but can never receive its files: cancel it."""
        try:
            await self._client.cancel_job(job.job_id)
        except APIError as problem:
            return UploadURLsLostError(
                f"Descript created import {job.job_id} for this request, but the answer with "
                f"its upload URLs was lost ({error.message}), and cancelling it failed "
                f"({problem.message}): cancel {job.job_id}, then submit the import again.",
                method="POST",
                path=path,
                cause=error,
                job=job,
                cancelled=False,
            )
        return UploadURLsLostError(
            f"Descript created import {job.job_id} for this request, but the answer with its "
            f"upload URLs was lost ({error.message}). The import was cancelled, as it could "
            "never receive its files: submitting it again is safe.",
            method="POST",
            path=path,
            cause=error,
            job=job,
            cancelled=True,
        )


def _raw_id(item: Any) -> str:
    job_id = item.get("job_id") if isinstance(item, dict) else None
    return job_id if isinstance(job_id, str) and job_id else "(an unreadable job)"


def _describe(problem: BaseException) -> str:
    return problem.message if isinstance(problem, APIError) else type(problem).__name__
