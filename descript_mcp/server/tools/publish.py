"""Getting media out: publish, a published page, and a transcript's text."""

from datetime import datetime
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
)
from descript_mcp.errors import MAX_ID
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import FROM_DESCRIPT, Compact, JobSummary
from descript_mcp.server.tools.arguments import (
    CompositionId,
    Force,
    Format,
    Markers,
    ProjectId,
    Speakers,
    Timecoded,
    WaitSeconds,
)
from descript_mcp.server.tools.compositions import named_or_first_with_content
from descript_mcp.server.tools.flow import submit_and_wait
from descript_mcp.server.tools.registry import CHANGES, FREE, READS, tool

# Enough for a long episode's transcript, well under what clients accept as a tool result.
MAX_TRANSCRIPT_CHARACTERS = 200_000


class Transcript(Compact):
    format: str
    filename: str | None
    composition_id: str | None
    size: int = Field(description="Bytes of the file Descript made")
    text: str = Field(description=f"The transcript. {FROM_DESCRIPT}")
    truncated: bool = Field(description="True when text holds only the start of it")


class PublishedPage(Compact):
    share_url: str
    project_id: str
    media_type: str
    access_level: str = Field(description="Who can open it: private, drive, unlisted or public")
    title: str | None = Field(default=None, description=FROM_DESCRIPT)
    duration_seconds: float | None = None
    published_at: datetime | None = None
    published_by: str | None = Field(default=None, description=FROM_DESCRIPT)
    download_url: str | None = Field(default=None, description="A freshly signed link")
    download_url_expires_at: datetime | None = None
    subtitles: str = Field(description=f"WebVTT. {FROM_DESCRIPT}")
    truncated: bool | None = Field(
        default=None, description="True when subtitles hold only the start"
    )


@tool(title="Publish a composition", annotations=CHANGES, cost=FREE, job=True)
async def publish(
    project_id: ProjectId,
    ctx: Context[Any],
    composition_id: CompositionId = None,
    access_level: Annotated[
        AccessLevel | None,
        Field(description="Who can open the page; default: the drive's setting"),
    ] = None,
    media_type: Annotated[MediaType | None, Field(description="Default Video if any")] = None,
    resolution: Resolution | None = None,
    wait_seconds: WaitSeconds = None,
    force: Force = False,
) -> JobSummary:
    """Render a composition to a Descript share page: share_url, and download_url (expires)
    for save_file. Republishing the same composition and media type replaces the page's
    media and access level at the same URL. One publish per project at a time. Free; takes
    minutes for long compositions."""
    state, caller = await caller_of(ctx)
    return await submit_and_wait(
        ctx,
        state,
        caller,
        caller.client.publish,
        PublishRequest(
            project_id=project_id,
            composition_id=composition_id,
            media_type=media_type,
            resolution=resolution,
            access_level=access_level,
        ),
        force=force,
        wait_seconds=wait_seconds,
    )


@tool(title="Read a published page", annotations=READS, cost=FREE)
async def get_published_page(
    share_url: Annotated[
        str, Field(min_length=1, max_length=MAX_ID, description="A share URL or its last part")
    ],
    ctx: Context[Any],
) -> PublishedPage:
    """A share page's title, duration, access, author, subtitles (WebVTT) and a fresh
    download link. Free; Descript allows 1,000 an hour."""
    _, caller = await caller_of(ctx)
    page = await caller.client.get_published_project(share_url)
    author = page.metadata.published_by
    name = " ".join(filter(None, (author.first_name, author.last_name))) if author else ""
    return PublishedPage(
        share_url=share_url,
        project_id=page.project_id,
        media_type=page.publish_type,
        access_level=page.privacy,
        title=page.metadata.title,
        duration_seconds=page.metadata.duration_seconds,
        published_at=page.metadata.published_at,
        published_by=name or None,
        download_url=page.download_url,
        download_url_expires_at=page.download_url_expires_at,
        subtitles=page.subtitles[:MAX_TRANSCRIPT_CHARACTERS],
        truncated=len(page.subtitles) > MAX_TRANSCRIPT_CHARACTERS or None,
    )


@tool(title="Read a transcript", annotations=READS, cost=FREE)
async def export_transcript(
    project_id: ProjectId,
    ctx: Context[Any],
    format: Format = "markdown",
    composition_id: CompositionId = None,
    include_speaker_labels: Speakers = None,
    include_markers: Markers = None,
    timecodes: Timecoded = None,
) -> Transcript:
    """A composition's transcript as text (srt: subtitles). To save it as a file, docx
    included, use save_file. Free and immediate."""
    _, caller = await caller_of(ctx)
    if format == "docx":
        raise ToolError("docx is a binary file: save it with save_file, or choose a text format.")
    exported = await caller.client.export_transcript(
        ExportTranscriptRequest(
            project_id=project_id,
            format=format,
            composition_id=await named_or_first_with_content(
                caller.client, project_id, composition_id
            ),
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
        size=len(exported.content),
        truncated=len(text) > MAX_TRANSCRIPT_CHARACTERS,
        text=text[:MAX_TRANSCRIPT_CHARACTERS],
    )
