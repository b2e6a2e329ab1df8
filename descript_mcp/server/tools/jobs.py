"""Tools about jobs: get_job (with a bounded wait), list_jobs, cancel_job."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from descript_mcp.client.models import DOCUMENTED_JOB_TYPES, ListJobsType
from descript_mcp.errors import MAX_ID, BadRequestError
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import JobSummary, summarize
from descript_mcp.server.tools.arguments import Cursor, Dated, JobId, Limit, WaitSeconds
from descript_mcp.server.tools.flow import bounded_wait, wait_for
from descript_mcp.server.tools.progress import CallProgress
from descript_mcp.server.tools.registry import CANCELS, FREE, READS, tool


class JobList(BaseModel):
    jobs: list[JobSummary]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the end")


@tool(title="Get a job's status", annotations=READS, cost=FREE, job=True)
async def get_job(job_id: JobId, ctx: Context[Any], wait_seconds: WaitSeconds = 0) -> JobSummary:
    """A job's state and, once finished, its result (media, the agent's answer, share and
    download URLs). With wait_seconds, waits for its end: use it to keep waiting on a job a
    call returned unfinished, never start the job again. Free."""
    state, caller = await caller_of(ctx)
    wait = bounded_wait(state, wait_seconds)
    job = await wait_for(state, caller, job_id, wait, CallProgress(ctx))
    return wait.tell(summarize(job), job)


@tool(title="List recent jobs", annotations=READS, cost=FREE)
async def list_jobs(
    ctx: Context[Any],
    project_id: Annotated[str | None, Field(max_length=MAX_ID)] = None,
    type: Annotated[
        ListJobsType | None,
        Field(description="Descript documents the first two; the others are as observed"),
    ] = None,
    created_after: Annotated[
        Dated, Field(description="A date or time; default 7 days ago, at most 30")
    ] = None,
    created_before: Dated = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> JobList:
    """The drive's jobs, newest first. Descript keeps 30 days; descript://jobs keeps this
    server's longer. Free."""
    state, caller = await caller_of(ctx)
    try:
        page = await caller.client.list_jobs_page(
            project_id=project_id,
            type=type,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            cursor=cursor,
        )
    except BadRequestError as refused:
        if type is None or type in DOCUMENTED_JOB_TYPES or '"type"' not in refused.message:
            raise
        raise ToolError(
            f"Descript refused type {type} (400: “{refused.message}”): it documents only "
            f"{' and '.join(DOCUMENTED_JOB_TYPES)}; the others were seen accepted once, not "
            "here. List without type and read each job's job_type."
        ) from refused
    for job in page.items:
        await state.tracker.record(caller.owner, job)
    return JobList(jobs=[summarize(job) for job in page.items], next_cursor=page.next_cursor)


@tool(title="Cancel a job", annotations=CANCELS, cost=FREE, job=True)
async def cancel_job(job_id: JobId, ctx: Context[Any]) -> JobSummary:
    """Cancel a queued or running job. Media an import brought in stays; a finished job is
    left as it is."""
    state, caller = await caller_of(ctx)
    await caller.client.cancel_job(job_id)
    job = await caller.client.get_job(job_id)
    await state.tracker.record(caller.owner, job)
    return summarize(job)
