"""Tools on Descript's undocumented job routes, offered only with the `experimental` toolset:
timeline export and drive-media import rest on observed behaviour (descript-api-notes.md,
"undocumented routes"), not on Descript's spec, and may change without notice."""

from contextlib import ExitStack
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import Field

from descript_mcp.client.models import (
    ExportTimelineRequest,
    ImportDriveMediaRequest,
    TimelineFormat,
)
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import JobSummary
from descript_mcp.server.tools.arguments import CompositionId, Force, ProjectId, WaitSeconds
from descript_mcp.server.tools.compositions import named_or_first_with_content
from descript_mcp.server.tools.flow import submit_and_wait
from descript_mcp.server.tools.media_sources import FileSource, plan_media, sent_by_caller
from descript_mcp.server.tools.registry import CREATES, FREE, MEDIA_MINUTES, tool

OBSERVED = "Experimental: an undocumented Descript route, as observed; it may change."


@tool(title="Export a timeline (experimental)", annotations=CREATES, cost=FREE, job=True)
async def export_timeline(
    project_id: ProjectId,
    format: Annotated[
        TimelineFormat,
        Field(
            description="edl (Reaper, Samplitude), sesx (Audition), fcp (FCPXML), premiere, "
            "davinci_resolve, aaf (Pro Tools, Logic)"
        ),
    ],
    ctx: Context[Any],
    composition_id: CompositionId = None,
    include_markers: bool | None = None,
    create_track_per_file: Annotated[bool | None, Field(description="Not for fcp")] = None,
    snap_frame_rates: Annotated[
        bool | None, Field(description="false only for premiere, davinci_resolve")
    ] = None,
    strip_spaces: Annotated[bool | None, Field(description="aaf only")] = None,
    wait_seconds: WaitSeconds = None,
    force: Force = False,
) -> JobSummary:
    """Export a composition as a timeline for another editor; media is not included. The
    file is at download_url (24 h); save_file saves it. Free, seconds."""
    state, caller = await caller_of(ctx)
    summary = await submit_and_wait(
        ctx,
        state,
        caller,
        caller.client.export_timeline,
        ExportTimelineRequest(
            project_id=project_id,
            format=format,
            composition_id=await named_or_first_with_content(
                caller.client, project_id, composition_id
            ),
            include_markers=include_markers,
            create_track_per_file=create_track_per_file,
            snap_frame_rates=snap_frame_rates,
            strip_spaces=strip_spaces,
        ),
        force=force,
        wait_seconds=wait_seconds,
    )
    summary.summary = f"{summary.summary} {OBSERVED}"
    return summary


@tool(
    title="Import into the drive's media library (experimental)",
    annotations=CREATES,
    cost=MEDIA_MINUTES,
    job=True,
)
async def import_drive_media(
    add_media: Annotated[
        dict[str, FileSource],
        Field(description="At most 3, by name with extension; Folder/Name.wav makes folders"),
    ],
    ctx: Context[Any],
    folder_id: Annotated[
        str | None, Field(description="A media library folder (search_drive's folder_id)")
    ] = None,
    wait_seconds: WaitSeconds = None,
    force: Force = False,
) -> JobSummary:
    """Import media into the drive's media library, in no project. Costs media minutes."""
    state, caller = await caller_of(ctx)
    with ExitStack() as opened:
        items, local = await plan_media(add_media, ctx, state, caller, opened)
        summary = await submit_and_wait(
            ctx,
            state,
            caller,
            caller.client.import_drive_media,
            # FileSource makes no sequences: every item is a URL or an upload.
            ImportDriveMediaRequest(add_media=items, folder_id=folder_id),
            force=force,
            wait_seconds=wait_seconds,
            local=local,
            sent_by_caller=sent_by_caller(add_media),
        )
    summary.summary = f"{summary.summary} {OBSERVED}"
    return summary
