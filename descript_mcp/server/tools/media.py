"""import_media: bring media into a new or existing project."""

from contextlib import ExitStack
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from descript_mcp.client.models import (
    CompositionUpdate,
    ImportMediaRequest,
    NewComposition,
    TeamAccess,
)
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import JobSummary
from descript_mcp.server.tools.arguments import Force, WaitSeconds
from descript_mcp.server.tools.flow import submit_and_wait
from descript_mcp.server.tools.media_sources import MediaSource, plan_media, sent_by_caller
from descript_mcp.server.tools.registry import CREATES, MEDIA_MINUTES, tool


@tool(title="Import media into Descript", annotations=CREATES, cost=MEDIA_MINUTES, job=True)
async def import_media(
    ctx: Context[Any],
    add_media: Annotated[
        dict[str, MediaSource],
        Field(description="By name in the project, with its extension: interview.mp4"),
    ],
    project_id: Annotated[str | None, Field(description="Default: a new project")] = None,
    project_name: str | None = None,
    add_compositions: Annotated[
        list[NewComposition] | None, Field(description="Timelines to make of the media")
    ] = None,
    update_compositions: Annotated[
        list[CompositionUpdate] | None,
        Field(description="Clips to append to the project's timelines (undocumented)"),
    ] = None,
    folder_name: Annotated[str | None, Field(description="For a new project: A/B")] = None,
    workspace_name: Annotated[
        str | None, Field(description="For a new project: Personal, General or a team's")
    ] = None,
    team_access: TeamAccess | None = None,
    wait_seconds: WaitSeconds = None,
    force: Force = False,
) -> JobSummary:
    """Import audio, video or images (from URLs, local files, files you send, or multitrack
    sequences) into a new or existing project, which Descript transcribes. Costs media minutes
    (their duration). Returns when done or after wait_seconds: then get_job, never import
    again."""
    state, caller = await caller_of(ctx)
    with ExitStack() as opened:
        items, local = await plan_media(add_media, ctx, state, caller, opened)
        request = ImportMediaRequest(
            project_id=project_id,
            project_name=project_name,
            folder_name=folder_name,
            workspace_name=workspace_name,
            team_access=team_access,
            add_media=items,
            add_compositions=add_compositions,
            update_compositions=update_compositions,
        )
        return await submit_and_wait(
            ctx,
            state,
            caller,
            caller.client.import_project_media,
            request,
            force=force,
            wait_seconds=wait_seconds,
            local=local,
            sent_by_caller=sent_by_caller(add_media),
        )
