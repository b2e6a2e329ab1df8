"""Job history and projects as resources, and completion of job and project ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import (
    Completion,
    CompletionArgument,
    CompletionContext,
    PromptReference,
    ResourceTemplateReference,
)

from descript_mcp.errors import DescriptError, NotFoundError
from descript_mcp.server.errors import tool_message
from descript_mcp.server.notify import JOBS_URI
from descript_mcp.server.state import caller_of, current_caller, state_of
from descript_mcp.server.summaries import DATA_NOTE

HISTORY_LIMIT = 50


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")


ID_ARGUMENTS = {"job_id": "job_id", "project_id": "project_id"}


def register(server: MCPServer[Any]) -> None:
    @server.resource(
        JOBS_URI,
        name="job_history",
        title="Job history",
        mime_type="application/json",
        description=f"The {HISTORY_LIMIT} newest jobs started or seen by this server, newest "
        "first, kept beyond Descript's 30 days; and submissions that may or may not have made "
        "a job, with the jobs that could be theirs",
    )
    async def job_history() -> dict[str, Any]:
        state, caller = await current_caller()
        records = await state.history.jobs.recent(caller.owner, HISTORY_LIMIT)
        unsure = await state.history.submissions.newest(caller.owner, "unconfirmed", HISTORY_LIMIT)
        return {
            "about": DATA_NOTE,
            "jobs": [record.to_json() for record in records],
            "unconfirmed": [
                {
                    "job_type": submission.job_type,
                    "sent_at": _iso(submission.sent_at),
                    "candidates": list(submission.candidates),
                }
                for submission in unsure
            ],
        }

    @server.resource(
        f"{JOBS_URI}/{{job_id}}",
        name="job",
        title="A job",
        mime_type="application/json",
        description="One job's full record: what was asked, each state change, the result. "
        "Subscribe to hear when it changes.",
    )
    async def job(job_id: str, ctx: Context[Any]) -> dict[str, Any]:
        state = state_of(ctx)
        owner = (await state.caller_for(ctx.request_context.request)).owner
        record = await state.history.jobs.get(owner, job_id)
        if record is None:
            raise ResourceNotFoundError(f"No job {job_id} in this server's history")
        events = await state.history.jobs.events(owner, job_id)
        return {"about": DATA_NOTE} | record.to_json() | {"events": events}

    @server.resource(
        "descript://projects/{project_id}",
        name="project",
        title="A project",
        mime_type="application/json",
        description="A project's media, compositions and publishes, read from Descript",
    )
    async def project(project_id: str, ctx: Context[Any]) -> dict[str, Any]:
        _, caller = await caller_of(ctx)
        try:
            found = await caller.client.get_project(project_id)
        except NotFoundError as error:
            raise ResourceNotFoundError(tool_message(error)) from error
        except DescriptError as error:
            raise ResourceError(tool_message(error)) from error
        return {"about": DATA_NOTE} | found.model_dump(mode="json", exclude_none=True)

    @server.completion()  # type: ignore[untyped-decorator, no-untyped-call]  # the SDK types it not
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        column = ID_ARGUMENTS.get(argument.name)
        if column is None:
            return None
        state, caller = await current_caller()
        values = await state.history.jobs.complete_ids(
            caller.owner, column, argument.value, limit=100
        )
        return Completion(values=values, total=len(values), has_more=False)
