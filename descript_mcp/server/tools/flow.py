"""The path every job tool takes: submit (exactly once, the same call twice answered with the
earlier job), send the import's local files, wait a bounded time with progress notifications,
and summarise, saying how long it waited and when to look again; or, for an import waiting for
files its caller sends, where to send them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import anyio
from mcp.server.mcpserver import Context

from descript_mcp.client.ledger import DedupeKey
from descript_mcp.client.models import (
    Job,
    JobCreated,
    JobCreatedBase,
    JobRequest,
    RequestModel,
    UploadTarget,
)
from descript_mcp.client.waiter import ProgressUpdate
from descript_mcp.errors import DuplicateSubmissionError, UploadURLsLostError
from descript_mcp.redact import redact_urls
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import ServerState
from descript_mcp.server.summaries import JobSummary, MediaOutcome, Wait, summarize
from descript_mcp.server.tools.local_files import LocalMedia, UploadFailure, upload_all
from descript_mcp.server.tools.progress import CallProgress
from descript_mcp.server.tools.registry import running_tool
from descript_mcp.server.upload_links import awaiting_bytes, links_of

CreatedT = TypeVar("CreatedT", bound=JobCreatedBase)


def bounded_wait(state: ServerState, wait_seconds: float | None) -> Wait:
    """The wait a call gets: what it asked (the server's default when None), at most the
    server's longest."""
    settings = state.settings
    requested = settings.wait_seconds if wait_seconds is None else wait_seconds
    return Wait.bounded(requested, settings.max_wait_seconds)


async def wait_for(
    state: ServerState,
    caller: Caller,
    job_id: str,
    wait: Wait,
    progress: CallProgress,
    weight: float = 100.0,
) -> Job:
    """Wait up to `wait.applied` seconds; the job as last seen."""
    followed = state.tracker.follow(caller.owner, caller.client, job_id)

    async def report(update: ProgressUpdate) -> None:
        await progress.job_update(update, weight)

    if await state.tracker.wait(followed, wait.applied, report):
        wait.capped = "the server is restarting; call get_job again to wait more"
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
        """The summary, with what the 201 said and the job does not say yet (an agent edit's
        conversation_id and resolved_model before it ends, or after an error without them)."""
        if self.created is not None:
            answered = self.created.model_dump(exclude_none=True)
            for name in answered.keys() & JobSummary.model_fields.keys():
                if getattr(summary, name) is None:
                    setattr(summary, name, answered[name])
        if self.note:
            summary.summary = f"{self.note} {summary.summary}"
        return summary


async def submit_job(
    state: ServerState,
    caller: Caller,
    send: Callable[..., Awaitable[CreatedT]],
    request: JobRequest,
    *,
    force: bool,
    local_files: Iterable[tuple[tuple[int, int], int]] = (),
    picked: Sequence[object] = (),
) -> Submitted[CreatedT]:
    """Send a job-creating request and record the job Descript accepted, as one step that a
    cancelled tool call cannot split: a call cancelled while the POST is in flight waits for
    its answer (bounded by the client's timeouts), so an accepted job is always in the history.

    Unless `force`, the same call (same token, tool, request and local files, or files
    `picked` in a browser) within ten minutes of one Descript accepted is not sent: its job is
    returned instead. Models repeat calls after a timeout or a dropped connection; that is
    where a second charge comes from.
    """
    tool = running_tool()
    fingerprint = _fingerprint(caller.owner, tool, request, local_files, picked)
    key = None if force else DedupeKey(fingerprint)
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
            accepted = (
                JobCreated(
                    job_id=job.job_id,
                    drive_id=job.drive_id,
                    project_id=job.project_id,
                    project_url=job.project_url or "",
                )
                if job.project_id
                else JobCreatedBase(job_id=job.job_id, drive_id=job.drive_id)
            )
            await state.history.jobs.record_submitted(
                caller.owner,
                accepted,
                job_type=request.job_type,
                tool=tool,
                request=redact_urls(request.to_body()),
            )
            state.tracker.follow(caller.owner, caller.client, job.job_id)
            raise
        await state.history.jobs.record_submitted(
            caller.owner,
            created,
            job_type=request.job_type,
            tool=tool,
            request=redact_urls(request.to_body()),
        )
    return Submitted(created.job_id, created)


def _fingerprint(
    owner: str,
    tool: str,
    request: RequestModel,
    local_files: Iterable[tuple[tuple[int, int], int]],
    picked: Sequence[object],
) -> str:
    """What makes two calls the same: who, which tool, what it asks of Descript (its callback
    URL aside, which is new each time) and which local files it uploads (by device and inode,
    and size) or which files a browser picked (as it describes them)."""
    body = request.to_body()
    body.pop("callback_url", None)
    same = [owner, tool, body, sorted(local_files)] + ([list(picked)] if picked else [])
    return hashlib.sha256(json.dumps(same, sort_keys=True).encode()).hexdigest()


async def submit_and_wait(
    ctx: Context[Any],
    state: ServerState,
    caller: Caller,
    send: Callable[..., Awaitable[JobCreatedBase]],
    request: JobRequest,
    *,
    force: bool,
    wait_seconds: float | None,
    local: list[LocalMedia] | None = None,
    sent_by_caller: Sequence[str] = (),
    picked: Sequence[object] = (),
) -> JobSummary:
    """A job tool's call, from the request to the summary it returns: the request goes with
    this server's callback URL (when Descript can reach it), recorded as the job its type names
    and under the tool being called. `sent_by_caller` names the media the caller sends to the
    answer's upload URLs itself: then the call does not wait for the job, which cannot go on
    before the bytes arrive, and answers with the links."""
    local = local or []
    request = request.model_copy(update={"callback_url": state.callbacks.url_for(caller)})
    submitted = await submit_job(
        state,
        caller,
        send,
        request,
        force=force,
        local_files=[(media.file.identity, media.size) for media in local],
        picked=picked,
    )
    progress = CallProgress(ctx)
    created = submitted.created
    # The earlier call of a repeated one sent its files already.
    upload_bytes = sum(media.size for media in local) if created is not None else 0
    if created is not None and local:
        urls = getattr(created, "upload_urls", {})
        failures = await _upload(caller, local, urls, created.job_id, progress)
        if failures:
            await caller.client.cancel_job(created.job_id)
            job = await caller.client.get_job(created.job_id)
            await state.tracker.record(caller.owner, job)
            return _cancelled_for_uploads(job, failures)
        await progress.next_phase(upload_bytes)
    # The job's share of this call's progress: as much as the upload, or 100 without one.
    weight = upload_bytes or 100.0
    if sent_by_caller:
        return await _for_the_caller_to_send(
            state, caller, submitted, sent_by_caller, wait_seconds, progress, weight
        )
    wait = bounded_wait(state, wait_seconds)
    job = await wait_for(state, caller, submitted.job_id, wait, progress, weight)
    return submitted.tell(wait.tell(summarize(job), job))


async def _for_the_caller_to_send(
    state: ServerState,
    caller: Caller,
    submitted: Submitted[Any],
    names: Sequence[str],
    wait_seconds: float | None,
    progress: CallProgress,
    weight: float,
) -> JobSummary:
    """The import as it is now, with the links its caller sends the files to: this call's
    own, or, repeated, those this process gave the earlier call."""
    created = submitted.created
    if created is None:
        links = state.upload_links.get(caller.owner, submitted.job_id)
    else:
        targets = getattr(created, "upload_urls", {})
        links, missing = links_of(targets, names, datetime.now(UTC))
        if missing:
            await caller.client.cancel_job(created.job_id)
            job = await caller.client.get_job(created.job_id)
            await state.tracker.record(caller.owner, job)
            reason = "Descript returned no upload URL for it"
            return _cancelled_for_uploads(job, [UploadFailure(name, reason) for name in missing])
        state.upload_links.keep(caller.owner, created.job_id, links)
    requested = state.settings.wait_seconds if wait_seconds is None else wait_seconds
    why = "the import cannot go on before its files' bytes arrive" if requested else None
    wait = Wait(requested, 0.0, why)
    job = await wait_for(state, caller, submitted.job_id, wait, progress, weight)
    summary = wait.tell(summarize(job), job)
    if not job.is_terminal:
        awaiting_bytes(summary, links, names)
    return submitted.tell(summary)


async def _upload(
    caller: Caller,
    local: list[LocalMedia],
    urls: dict[str, UploadTarget],
    job_id: str,
    progress: CallProgress,
) -> list[UploadFailure]:
    """Send the files, each closed once sent; if sending is cancelled or fails unexpectedly,
    the import could never finish: it is cancelled."""
    try:
        return await upload_all(caller.client, local, urls, progress)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await caller.client.cancel_job(job_id)
        raise
    finally:
        for media in local:
            media.file.close()


def _cancelled_for_uploads(job: Job, failures: list[UploadFailure]) -> JobSummary:
    summary = summarize(job)
    failed = {f.name for f in failures}
    summary.media = [
        MediaOutcome(name=f.name, status="failed", error=f.reason) for f in failures
    ] + [m for m in summary.media or [] if m.name not in failed]
    summary.summary = (
        f"{failures[0].name}: {failures[0].reason}. The import {job.job_id} was cancelled so it "
        "does not wait for the file forever (media already imported stay in the project). "
        "Fix the problem and import again."
    )
    return summary
