"""Tools about jobs: get_job (with a bounded wait), list_jobs, cancel_job."""

from contextlib import ExitStack
from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import JobSummary, summarize
from descript_mcp.server.tools.arguments import (
    Cursor,
    DownloadTo,
    JobId,
    Limit,
    Overwrite,
    WaitSeconds,
)
from descript_mcp.server.tools.flow import wait_for
from descript_mcp.server.tools.local_files import roots_for, with_saved_file
from descript_mcp.server.tools.progress import CallProgress
from descript_mcp.server.tools.registry import CANCELS, FREE, READS, SAVES, tool


class JobList(BaseModel):
    jobs: list[JobSummary]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the end")


@tool(title="Get a job's status, waiting if asked", annotations=SAVES, cost=FREE)
async def get_job(
    job_id: JobId,
    ctx: Context[Any],
    wait_seconds: WaitSeconds = 0,
    download_to: DownloadTo = None,
    overwrite: Overwrite = False,
) -> JobSummary:
    """Read a Descript job's state: progress while it runs, and its result once it has
    finished (imported media, the agent's answer and credits used, share and download URLs).

    With wait_seconds, waits that long for it to finish, reporting progress meanwhile. Use
    this to keep waiting on a job an earlier call returned unfinished; never start the job
    again. With download_to, a finished publish's file is saved there. Free: reads cost no
    credits.
    """
    state, caller = await caller_of(ctx)
    with ExitStack() as held:
        destination = None
        if download_to is not None:
            roots = await roots_for(ctx, state, caller)
            destination = held.enter_context(roots.open_writable(download_to, overwrite=overwrite))
        progress = CallProgress(ctx)
        job = await wait_for(state, caller, job_id, wait_seconds, progress)
        return await with_saved_file(
            caller.client, job, destination, overwrite=overwrite, progress=progress
        )


@tool(title="List recent jobs", annotations=READS, cost=FREE)
async def list_jobs(
    ctx: Context[Any],
    project_id: Annotated[str | None, Field(description="Only this project's jobs")] = None,
    type: Annotated[
        Literal["import/project_media", "agent"] | None, Field(description="Only this kind")
    ] = None,
    created_after: Annotated[
        datetime | None,
        Field(description="ISO 8601; default 7 days ago, at most 30 days ago"),
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> JobList:
    """List the drive's Descript jobs, newest first, with their state and results. Descript
    keeps jobs for 30 days; the descript://jobs resource keeps this server's jobs longer.
    Free."""
    state, caller = await caller_of(ctx)
    page = await caller.client.list_jobs_page(
        project_id=project_id,
        type=type,
        created_after=created_after,
        limit=limit,
        cursor=cursor,
    )
    for job in page.items:
        await state.tracker.record(caller.owner, job)
    return JobList(jobs=[summarize(job) for job in page.items], next_cursor=page.next_cursor)


@tool(title="Cancel a job", annotations=CANCELS, cost=FREE)
async def cancel_job(job_id: JobId, ctx: Context[Any]) -> JobSummary:
    """Cancel a queued or running Descript job. Media an import already brought in stays in
    the project. Cancelling a finished job changes nothing."""
    state, caller = await caller_of(ctx)
    await caller.client.cancel_job(job_id)
    job = await caller.client.get_job(job_id)
    await state.tracker.record(caller.owner, job)
    return summarize(job)
