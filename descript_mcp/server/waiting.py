"""The bounded wait of job tools: progress notifications while waiting, then a summary."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.server.mcpserver import Context

from descript_mcp.jobs import ProgressUpdate
from descript_mcp.models import JobCreated
from descript_mcp.redact import redact_urls
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import ServerState
from descript_mcp.server.summaries import JobSummary, outcome_of, summarize


class ProgressReporter:
    """Descript's progress as MCP progress notifications, whose value must only increase."""

    def __init__(self, ctx: Context[Any]) -> None:
        self.ctx = ctx
        self.last = -1.0

    async def __call__(self, update: ProgressUpdate) -> None:
        target = 100.0 if update.job.is_terminal else float(min(update.percent or 0, 99))
        value = target if target > self.last else round(self.last + 0.01, 2)
        self.last = value
        label = update.label or (
            f"finished: {outcome_of(update.job)}" if update.job.is_terminal else update.job_state
        )
        percent = f" {update.percent}%" if update.percent is not None else ""
        message = f"{label}{percent} ({update.elapsed:.0f} s)"
        await self.ctx.report_progress(value, total=100, message=message)


async def wait_and_summarize(
    state: ServerState, caller: Caller, ctx: Context[Any], job_id: str, wait_seconds: float | None
) -> JobSummary:
    """Wait up to `wait_seconds` (the server's default when None) and summarise the job."""
    followed = state.tracker.follow(caller.owner, caller.client, job_id)
    budget = state.settings.wait_seconds if wait_seconds is None else wait_seconds
    await state.tracker.wait(followed, budget, ProgressReporter(ctx))
    if followed.job is None:
        assert followed.error is not None
        raise followed.error
    return summarize(followed.job)


async def record_submission(
    state: ServerState,
    caller: Caller,
    created: JobCreated,
    *,
    job_type: str,
    tool: str,
    request: dict[str, Any],
) -> None:
    """Store an accepted job at once, even if the tool call is being cancelled."""
    with anyio.CancelScope(shield=True):
        await state.store.record_submitted(
            caller.owner, created, job_type=job_type, tool=tool, request=redact_urls(request)
        )
