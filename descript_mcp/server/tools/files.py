"""save_file: the one tool that writes on this computer: a publish's media (or a timeline
export's file), or a transcript."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from descript_mcp.client.models import (
    ExportTranscriptRequest,
    PublishJob,
    TimelineExportJob,
    TranscriptFormat,
)
from descript_mcp.errors import MAX_ID
from descript_mcp.files.local import SavePlace
from descript_mcp.files.quota import size_text
from descript_mcp.files.roots import Roots
from descript_mcp.files.transfer import write_file
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import ServerState, caller_of
from descript_mcp.server.summaries import Compact, JobSummary, summarize
from descript_mcp.server.tools.arguments import (
    CompositionId,
    Markers,
    Speakers,
    Timecoded,
    WaitSeconds,
)
from descript_mcp.server.tools.compositions import named_or_first_with_content
from descript_mcp.server.tools.flow import bounded_wait, wait_for
from descript_mcp.server.tools.local_files import room_to_save, roots_for, save_job_file
from descript_mcp.server.tools.progress import CallProgress
from descript_mcp.server.tools.registry import FREE, SAVES, tool


class SavedFile(Compact):
    saved: bool
    summary: str = Field(description="What was saved, or why not and what to do next")
    saved_to: str | None = None
    size: int | None = Field(default=None, description="Bytes written")
    job: JobSummary | None = Field(default=None, description="The job whose file it is")


@tool(title="Save a file on this computer", annotations=SAVES, cost=FREE)
async def save_file(
    path: Annotated[
        str,
        Field(min_length=1, description="Absolute path under the folders the server may write"),
    ],
    ctx: Context[Any],
    job_id: Annotated[
        str | None,
        Field(max_length=MAX_ID, description="A publish (or timeline export) job: its file"),
    ] = None,
    project_id: Annotated[
        str | None, Field(max_length=MAX_ID, description="Or a project: its transcript")
    ] = None,
    format: Annotated[TranscriptFormat | None, Field(description="Default markdown")] = None,
    composition_id: CompositionId = None,
    include_speaker_labels: Speakers = None,
    include_markers: Markers = None,
    timecodes: Timecoded = None,
    overwrite: Annotated[bool, Field(description="Replace a file already there")] = False,
    wait_seconds: WaitSeconds = None,
) -> SavedFile:
    """Save a publish's media (job_id; waits for it like get_job) or a transcript in any
    format, docx too (project_id), at path. Written beside it, then moved into place. Free."""
    state, caller = await caller_of(ctx)
    transcript_options = {
        "format": format,
        "composition_id": composition_id,
        "include_speaker_labels": include_speaker_labels,
        "include_markers": include_markers,
        "timecodes": timecodes,
    }
    if (job_id is None) == (project_id is None):
        raise ToolError("Give job_id (a publish's media) or project_id (a transcript), not both.")
    given = [name for name, value in transcript_options.items() if value is not None]
    if job_id is not None and given:
        raise ToolError(f"{', '.join(given)}: for a transcript (project_id), not a publish.")
    roots = await roots_for(ctx, state, caller)
    with roots.open_writable(path, overwrite=overwrite) as destination:
        if job_id is not None:
            return await _save_job_file(
                ctx, state, caller, roots, job_id, destination, overwrite, wait_seconds
            )
        assert project_id is not None
        exported = await caller.client.export_transcript(
            ExportTranscriptRequest(
                project_id=project_id,
                format=format or "markdown",
                composition_id=await named_or_first_with_content(
                    caller.client, project_id, composition_id
                ),
                include_speaker_labels=include_speaker_labels,
                include_markers=include_markers,
                timecodes=timecodes,
            )
        )
        async with room_to_save(state, caller, roots) as room:
            destination.room = room
            await write_file(destination, exported.content, overwrite=overwrite)
        size = len(exported.content)
        return SavedFile(
            saved=True,
            saved_to=str(destination.shown),
            size=size,
            summary=f"Saved the transcript to {destination.shown} ({size_text(size)}).",
        )


async def _save_job_file(
    ctx: Context[Any],
    state: ServerState,
    caller: Caller,
    roots: Roots,
    job_id: str,
    destination: SavePlace,
    overwrite: bool,
    wait_seconds: float | None,
) -> SavedFile:
    progress = CallProgress(ctx)
    wait = bounded_wait(state, wait_seconds)
    job = await wait_for(state, caller, job_id, wait, progress)
    summary = wait.tell(summarize(job), job)
    if not isinstance(job, PublishJob | TimelineExportJob):
        raise ToolError(f"Job {job_id} is not a publish ({job.job_type}): it has no file to save.")
    kind = "publish" if isinstance(job, PublishJob) else "timeline export"
    if not job.is_terminal:
        text = (
            f"Nothing saved yet: {kind} {job_id} is still running. Call save_file again with "
            "the same arguments to keep waiting."
        )
        return SavedFile(saved=False, summary=text, job=summary)
    if summary.outcome != "success" or job.result is None:
        text = f"Nothing saved: {kind} {job_id} did not succeed ({summary.outcome})."
        return SavedFile(saved=False, summary=text, job=summary)
    async with room_to_save(state, caller, roots) as room:
        destination.room = room
        size = await save_job_file(
            caller.client, job, destination, overwrite=overwrite, progress=progress
        )
    return SavedFile(
        saved=True,
        saved_to=str(destination.shown),
        size=size,
        summary=f"Saved the {kind}'s file to {destination.shown} ({size_text(size)}).",
        job=summary,
    )
