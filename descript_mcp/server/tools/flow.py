"""The bounded wait of job tools: progress notifications while waiting, then a summary."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio

from descript_mcp.client.ledger import DedupeKey
from descript_mcp.client.models import Job, JobCreated, RequestModel
from descript_mcp.client.waiter import ProgressUpdate
from descript_mcp.errors import DuplicateSubmissionError, UploadURLsLostError
from descript_mcp.redact import redact_urls
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import ServerState
from descript_mcp.server.summaries import JobSummary
from descript_mcp.server.tools.progress import CallProgress

CreatedT = TypeVar("CreatedT", bound=JobCreated)


async def wait_for(
    state: ServerState,
    caller: Caller,
    job_id: str,
    wait_seconds: float | None,
    progress: CallProgress,
    weight: float = 100.0,
) -> Job:
    """Wait up to `wait_seconds` (the server's default when None); the job as last seen."""
    followed = state.tracker.follow(caller.owner, caller.client, job_id)
    budget = state.settings.wait_seconds if wait_seconds is None else wait_seconds

    async def report(update: ProgressUpdate) -> None:
        await progress.job_update(update, weight)

    await state.tracker.wait(followed, budget, report)
    job = followed.job
    # No answer about the job at all, only failures; or following it stopped before its end.
    if job is None or (followed.done and followed.error is not None and not job.is_terminal):
        assert followed.error is not None
        raise followed.error
    return job


@dataclass(frozen=True)
class Submitted(Generic[CreatedT]):
    """A job-creating call's job: the one it created (`created`), or, when the same call was
    made moments ago, that call's job (`created` None) with a `note` saying so."""

    job_id: str
    created: CreatedT | None
    note: str = ""

    def tell(self, summary: JobSummary) -> JobSummary:
        if self.note:
            summary.summary = f"{self.note} {summary.summary}"
        return summary


async def submit_job(
    state: ServerState,
    caller: Caller,
    send: Callable[..., Awaitable[CreatedT]],
    request: RequestModel,
    *,
    job_type: str,
    tool: str,
    force: bool,
    local_files: Iterable[tuple[tuple[int, int], int]] = (),
) -> Submitted[CreatedT]:
    """Send a job-creating request and record the job Descript accepted, as one step that a
    cancelled tool call cannot split: a call cancelled while the POST is in flight waits for
    its answer (bounded by the client's timeouts), so an accepted job is always in the history.

    Unless `force`, the same call (same token, tool, request and local files) within ten
    minutes of one Descript accepted is not sent: its job is returned instead. Models
    repeat calls after a timeout or a dropped connection; that is where a second charge comes
    from.
    """
    key = None if force else DedupeKey(_fingerprint(caller.owner, tool, request, local_files))
    with anyio.CancelScope(shield=True):
        try:
            created = await send(request, dedupe=key)
        except DuplicateSubmissionError as repeat:
            earlier = repeat.earlier
            if earlier.state != "accepted" or earlier.job_id is None:
                raise
            note = (
                f"{repeat} This call did not submit it again and reports that job (pass force: "
                "true to submit anew)."
            )
            return Submitted(earlier.job_id, None, note)
        except UploadURLsLostError as lost:  # a job Descript accepted, even if now cancelled
            job = lost.job
            await state.history.jobs.record_submitted(
                caller.owner,
                JobCreated(
                    job_id=job.job_id,
                    drive_id=job.drive_id,
                    project_id=job.project_id or "",
                    project_url=job.project_url or "",
                ),
                job_type=job_type,
                tool=tool,
                request=redact_urls(request.to_body()),
            )
            state.tracker.follow(caller.owner, caller.client, job.job_id)
            raise
        await state.history.jobs.record_submitted(
            caller.owner,
            created,
            job_type=job_type,
            tool=tool,
            request=redact_urls(request.to_body()),
        )
    return Submitted(created.job_id, created)


def _fingerprint(
    owner: str,
    tool: str,
    request: RequestModel,
    local_files: Iterable[tuple[tuple[int, int], int]],
) -> str:
    """What makes two calls the same: who, which tool, what it asks of Descript (its callback
    URL aside, which is new each time) and which local files it uploads (by device and inode,
    and size)."""
    body = request.to_body()
    body.pop("callback_url", None)
    same = [owner, tool, body, sorted(local_files)]
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()
