"""Getting media out: publish and export_transcript."""

from contextlib import ExitStack
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from descript_mcp.client.models import (
    AccessLevel,
    ExportTranscriptRequest,
    MediaType,
    PublishRequest,
    Resolution,
    SpeakerLabels,
    Timecodes,
    TranscriptFormat,
)
from descript_mcp.files.local import SavePlace
from descript_mcp.files.transfer import write_file
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import FROM_DESCRIPT, Compact, JobSummary
from descript_mcp.server.tools.arguments import (
    CompositionId,
    DownloadTo,
    Force,
    Overwrite,
    ProjectId,
    WaitSeconds,
)
from descript_mcp.server.tools.flow import submit_and_wait
from descript_mcp.server.tools.local_files import roots_for
from descript_mcp.server.tools.registry import CHANGES, FREE, SAVES, tool

# Enough for a long episode's transcript, well under what clients accept as a tool result.
MAX_TRANSCRIPT_CHARACTERS = 200_000


class Transcript(Compact):
    format: str
    filename: str | None
    composition_id: str | None
    size: int = Field(description="Bytes of the file Descript made")
    text: str | None = Field(
        default=None, description=f"The transcript, when not saved. {FROM_DESCRIPT}"
    )
    truncated: bool | None = Field(
        default=None, description="True when text holds only the start of the transcript"
    )
    saved_to: str | None = Field(default=None, description="Where the file was saved")


@tool(title="Publish a composition", annotations=CHANGES, cost=FREE)
async def publish(
    project_id: ProjectId,
    ctx: Context[Any],
    composition_id: CompositionId = None,
    access_level: Annotated[
        AccessLevel | None,
        Field(
            description="Who can open the share page: private (only you), drive (drive "
            "members), unlisted (anyone with the link), public; default: the drive's setting",
        ),
    ] = None,
    media_type: Annotated[
        MediaType | None,
        Field(description="Video or Audio; default Video, or Audio when there is no video"),
    ] = None,
    resolution: Annotated[
        Resolution | None, Field(description="Video resolution, e.g. 1080p")
    ] = None,
    wait_seconds: WaitSeconds = None,
    download_to: DownloadTo = None,
    overwrite: Overwrite = False,
    force: Force = False,
) -> JobSummary:
    """Render a composition and publish it to a Descript share page. The result has the
    share_url and a download_url of the rendered file (a signed link that expires).

    Publishing the same composition as the same media type again replaces the earlier
    version behind the same share URL, with the access level given (or the drive's). One
    publish per project runs at a time. Costs no credits. Rendering takes minutes for long
    compositions: after wait_seconds the job id is returned; call get_job to keep waiting.
    With download_to, the rendered file is saved on this computer once it is ready.
    """
    state, caller = await caller_of(ctx)
    with ExitStack() as held:
        destination = None
        if download_to is not None:  # checked before anything is started, held until used
            roots = await roots_for(ctx, state, caller)
            destination = held.enter_context(roots.open_writable(download_to, overwrite=overwrite))
        return await submit_and_wait(
            ctx,
            state,
            caller,
            caller.client.publish,
            PublishRequest(
                callback_url=state.callbacks.url_for(caller),
                project_id=project_id,
                composition_id=composition_id,
                media_type=media_type,
                resolution=resolution,
                access_level=access_level,
            ),
            job_type="publish",
            tool="publish",
            force=force,
            wait_seconds=wait_seconds,
            destination=destination,
            overwrite=overwrite,
        )


@tool(title="Export a transcript", annotations=SAVES, cost=FREE)
async def export_transcript(
    project_id: ProjectId,
    ctx: Context[Any],
    format: Annotated[
        TranscriptFormat,
        Field(description="txt, markdown, html, rtf, srt, or docx (saved only)"),
    ] = "markdown",
    composition_id: CompositionId = None,
    include_speaker_labels: Annotated[
        SpeakerLabels | None,
        Field(description="off, changes (when the speaker changes; default), every_paragraph"),
    ] = None,
    include_markers: Annotated[bool | None, Field(description="Include markers")] = None,
    timecodes: Annotated[
        Timecodes | None, Field(description="Add timecodes: every N seconds and/or on events")
    ] = None,
    save_to: Annotated[
        str | None,
        Field(
            description="Save the file at this absolute path on this computer instead of "
            "returning its text"
        ),
    ] = None,
    overwrite: Overwrite = False,
) -> Transcript:
    """The transcript of a composition: as text in the result (subtitles with srt), or
    saved as a file with save_to (any format, docx included). Free and immediate."""
    state, caller = await caller_of(ctx)
    if save_to is None and format == "docx":
        raise ToolError("docx is a binary file: give save_to, or choose a text format.")
    with ExitStack() as held:
        destination = None
        if save_to is not None:
            roots = await roots_for(ctx, state, caller)
            destination = held.enter_context(roots.open_writable(save_to, overwrite=overwrite))
        return await _export(
            caller,
            ExportTranscriptRequest(
                project_id=project_id,
                format=format,
                composition_id=composition_id,
                include_speaker_labels=include_speaker_labels,
                include_markers=include_markers,
                timecodes=timecodes,
            ),
            destination,
            overwrite=overwrite,
        )


async def _export(
    caller: Caller,
    request: ExportTranscriptRequest,
    destination: SavePlace | None,
    *,
    overwrite: bool,
) -> Transcript:
    exported = await caller.client.export_transcript(request)
    common = {
        "format": request.format,
        "filename": exported.filename,
        "composition_id": exported.composition_id,
    }
    if destination is not None:
        await write_file(destination, exported.content, overwrite=overwrite)
        return Transcript(**common, saved_to=str(destination.shown), size=len(exported.content))
    if not exported.is_text:
        raise ToolError("Descript answered with a binary file; ask for a text format.")
    text = exported.text()
    return Transcript(
        **common,
        size=len(exported.content),
        truncated=len(text) > MAX_TRANSCRIPT_CHARACTERS,
        text=text[:MAX_TRANSCRIPT_CHARACTERS],
    )
