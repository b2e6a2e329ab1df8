"""The bounded wait of job tools: progress notifications while waiting, then a summary."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context

from descript_mcp.jobs import ProgressUpdate
from descript_mcp.models import Job, JobCreated, RequestModel
from descript_mcp.redact import redact_urls
from descript_mcp.server.callers import Caller
from descript_mcp.server.progress import CallProgress
from descript_mcp.server.state import ServerState
from descript_mcp.summaries import JobSummary, summarize

RequestT = TypeVar("RequestT", bound=RequestModel)
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
    if followed.job is None:  # no answer about the job at all, only failures
        assert followed.error is not None
        raise followed.error
    return followed.job


async def wait_and_summarize(
    state: ServerState, caller: Caller, ctx: Context[Any], job_id: str, wait_seconds: float | None
) -> JobSummary:
    """Wait up to `wait_seconds` and summarise the job."""
    return summarize(await wait_for(state, caller, job_id, wait_seconds, CallProgress(ctx)))


async def submit_job(
    state: ServerState,
    caller: Caller,
    send: Callable[[RequestT], Awaitable[CreatedT]],
    request: RequestT,
    *,
    job_type: str,
    tool: str,
) -> CreatedT:
    """Send a job-creating request and record the job Descript accepted, as one step that a
    cancelled tool call cannot split: a call cancelled while the POST is in flight waits for
    its answer (bounded by the client's timeouts), so an accepted job is always in the history.
    """
    with anyio.CancelScope(shield=True):
        created = await send(request)
        await state.store.record_submitted(
            caller.owner,
            created,
            job_type=job_type,
            tool=tool,
            request=redact_urls(request.to_body()),
        )
    return created
