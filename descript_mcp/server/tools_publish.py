"""Getting media out: publish and export_transcript."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from descript_mcp.models import (
    AccessLevel,
    ExportTranscriptRequest,
    MediaType,
    PublishRequest,
    Resolution,
    SpeakerLabels,
    Timecodes,
)
from descript_mcp.server.annotations import CHANGES, READS
from descript_mcp.server.arguments import CompositionId, ProjectId, WaitSeconds
from descript_mcp.server.registry import tool
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import JobSummary
from descript_mcp.server.waiting import record_submission, wait_and_summarize

# Enough for a long episode's transcript, well under what clients accept as a tool result.
MAX_TRANSCRIPT_CHARACTERS = 200_000
TextFormat = Literal["txt", "markdown", "html", "rtf", "srt"]


class Transcript(BaseModel):
    format: str
    filename: str | None
    composition_id: str | None
    characters: int
    truncated: bool = Field(description="True when text holds only the start of the transcript")
    text: str


def register(server: MCPServer[Any]) -> None:
    @tool(server, title="Publish a composition", annotations=CHANGES)
    async def publish(
        project_id: ProjectId,
        ctx: Context[Any],
        composition_id: CompositionId = None,
        access_level: Annotated[
            AccessLevel,
            Field(
                description="Who can open the share page: private (only you, the default), "
                "drive (drive members), unlisted (anyone with the link), public",
            ),
        ] = "private",
        media_type: Annotated[
            MediaType | None,
            Field(description="Video or Audio; default Video, or Audio when there is no video"),
        ] = None,
        resolution: Annotated[
            Resolution | None, Field(description="Video resolution, e.g. 1080p")
        ] = None,
        wait_seconds: WaitSeconds = None,
    ) -> JobSummary:
        """Render a composition and publish it to a Descript share page. The result has the
        share_url and a download_url of the rendered file (a signed link that expires).

        Publishing the same composition as the same media type again replaces the earlier
        version behind the same share URL. One publish per project runs at a time. Costs no
        credits. Rendering takes minutes for long compositions: after wait_seconds the job id
        is returned; call get_job to keep waiting.
        """
        state, caller = await caller_of(ctx)
        request = PublishRequest(
            project_id=project_id,
            composition_id=composition_id,
            media_type=media_type,
            resolution=resolution,
            access_level=access_level,
        )
        created = await caller.client.publish(request)
        await record_submission(
            state, caller, created, job_type="publish", tool="publish", request=request.to_body()
        )
        return await wait_and_summarize(state, caller, ctx, created.job_id, wait_seconds)

    @tool(server, title="Export a transcript", annotations=READS)
    async def export_transcript(
        project_id: ProjectId,
        ctx: Context[Any],
        format: Annotated[TextFormat, Field(description="txt, markdown, html, rtf or srt")] = (
            "markdown"
        ),
        composition_id: CompositionId = None,
        include_speaker_labels: Annotated[
            SpeakerLabels | None,
            Field(description="off, changes (when the speaker changes; default), every_paragraph"),
        ] = None,
        include_markers: Annotated[bool | None, Field(description="Include markers")] = None,
        timecodes: Annotated[
            Timecodes | None, Field(description="Add timecodes: every N seconds and/or on events")
        ] = None,
    ) -> Transcript:
        """The transcript of a composition as text (subtitles with srt). Free and immediate."""
        _, caller = await caller_of(ctx)
        exported = await caller.client.export_transcript(
            ExportTranscriptRequest(
                project_id=project_id,
                format=format,
                composition_id=composition_id,
                include_speaker_labels=include_speaker_labels,
                include_markers=include_markers,
                timecodes=timecodes,
            )
        )
        if not exported.is_text:
            raise ToolError("Descript answered with a binary file; ask for a text format.")
        text = exported.text()
        return Transcript(
            format=format,
            filename=exported.filename,
            composition_id=exported.composition_id,
            characters=len(text),
            truncated=len(text) > MAX_TRANSCRIPT_CHARACTERS,
            text=text[:MAX_TRANSCRIPT_CHARACTERS],
        )
