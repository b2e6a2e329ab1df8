"""import_media: bring media into a new or existing project."""

from contextlib import ExitStack
from typing import Annotated, Any, Self

from mcp.server.mcpserver import Context
from pydantic import BaseModel, ConfigDict, Field, model_validator

from descript_mcp.client.models import (
    CompositionUpdate,
    ImportMediaRequest,
    MediaItem,
    NewComposition,
    SequenceMedia,
    SequenceTrack,
    TeamAccess,
    UrlMedia,
)
from descript_mcp.files.roots import Roots
from descript_mcp.files.sharelinks import direct_download_url
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import ServerState, caller_of
from descript_mcp.server.summaries import JobSummary
from descript_mcp.server.tools.arguments import Force, WaitSeconds
from descript_mcp.server.tools.flow import submit_and_wait
from descript_mcp.server.tools.local_files import LocalMedia, roots_for
from descript_mcp.server.tools.registry import CREATES, MEDIA_MINUTES, tool
from descript_mcp.server.tools.samples import resolved
from descript_mcp.server.upload_links import sent_by_caller


class MediaSource(BaseModel):
    """Where one media item comes from: a URL, a local file, other media (a sequence), or the
    caller, who sends the file's bytes to the signed URL the answer gives (direct upload)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        description="A direct link (Range requests) or a public Google Drive or Dropbox share link",
    )
    path: str | None = Field(
        default=None, description="A file on this computer (absolute path), uploaded"
    )
    tracks: list[SequenceTrack] | None = Field(
        default=None, description="Multitrack: other media of this import or the project"
    )
    file_size: int | None = Field(
        default=None,
        ge=1,
        description="Bytes of a file you send yourself: the answer has its upload URL and command",
    )
    content_type: str | None = Field(default=None, description="With file_size: video/mp4")
    language: str | None = Field(default=None, description="ISO 639-1; default: detected")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.content_type is not None and self.file_size is None:
            raise ValueError("content_type goes with file_size (a file you send yourself)")
        if sum(x is not None for x in (self.url, self.path, self.tracks, self.file_size)) != 1:
            raise ValueError("give exactly one of url, path, tracks or file_size")
        return self


async def _plan_media(
    add_media: dict[str, MediaSource],
    ctx: Context[Any],
    state: ServerState,
    caller: Caller,
    opened: ExitStack,
) -> tuple[dict[str, MediaItem], list[LocalMedia]]:
    """The API's media items, and the local files to upload once the import exists: opened
    now, when they are checked, and kept open by `opened` until they are sent."""
    items: dict[str, MediaItem] = {}
    local: list[LocalMedia] = []
    roots: Roots | None = None
    for name, source in add_media.items():
        if source.tracks is not None:
            items[name] = SequenceMedia(tracks=source.tracks)
        elif source.url is not None:
            url = direct_download_url(resolved(source.url, state.settings.sandbox_media))
            items[name] = UrlMedia(url=url, language=source.language)
        elif source.file_size is not None:
            items[name] = sent_by_caller(
                name, source.file_size, source.content_type, source.language
            )
        else:
            assert source.path is not None
            roots = roots or await roots_for(ctx, state, caller)
            media = LocalMedia.open(name, roots, source.path, opened)
            items[name] = media.upload(source.language)
            local.append(media)
    return items, local


@tool(title="Import media into Descript", annotations=CREATES, cost=MEDIA_MINUTES)
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
        items, local = await _plan_media(add_media, ctx, state, caller, opened)
        request = ImportMediaRequest(
            callback_url=state.callbacks.url_for(caller),
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
            job_type="import/project_media",
            tool="import_media",
            force=force,
            wait_seconds=wait_seconds,
            local=local,
            sent_by_caller=[n for n, s in add_media.items() if s.file_size is not None],
        )
