"""import_media: bring media into a new or existing project."""

from contextlib import ExitStack
from pathlib import PurePosixPath
from typing import Annotated, Any, Self

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field, model_validator

from descript_mcp.client.models import (
    ImportMediaRequest,
    MediaItem,
    NewComposition,
    SequenceMedia,
    SequenceTrack,
    TeamAccess,
    UploadMedia,
    UrlMedia,
)
from descript_mcp.files.roots import Roots
from descript_mcp.files.sharelinks import direct_download_url
from descript_mcp.files.transfer import content_type_of
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import ServerState, caller_of
from descript_mcp.server.summaries import JobSummary
from descript_mcp.server.tools.arguments import Force, WaitSeconds
from descript_mcp.server.tools.flow import submit_and_wait
from descript_mcp.server.tools.local_files import LocalMedia, roots_for
from descript_mcp.server.tools.registry import CREATES, MEDIA_MINUTES, tool


class MediaSource(BaseModel):
    """Where one media item comes from: a URL, a local file, or other media (a sequence)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        description="A link Descript downloads: a direct link that allows HTTP Range requests, "
        'or a Google Drive or Dropbox share link (the file shared as "Anyone with the link")',
    )
    path: str | None = Field(
        default=None,
        description="An absolute path of a file on this computer, under the folders the server "
        "may read; it is uploaded",
    )
    tracks: list[SequenceTrack] | None = Field(
        default=None,
        description="A multitrack sequence: other media of this import or the project, each "
        "with an optional offset in seconds",
    )
    language: str | None = Field(
        default=None, description="ISO 639-1 language of the speech, e.g. en; default: detect"
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if sum(x is not None for x in (self.url, self.path, self.tracks)) != 1:
            raise ValueError("give exactly one of url, path or tracks")
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
            items[name] = UrlMedia(url=direct_download_url(source.url), language=source.language)
        else:
            assert source.path is not None
            if not PurePosixPath(name).suffix:
                raise ToolError(
                    f"Give the media name '{name}' a file extension (like {name}.mp4): "
                    "Descript reads the media type from it."
                )
            roots = roots or await roots_for(ctx, state, caller)
            file = opened.enter_context(roots.open_readable(source.path))
            items[name] = UploadMedia(
                content_type=content_type_of(name), file_size=file.size, language=source.language
            )
            local.append(LocalMedia(name, file))
    return items, local


@tool(title="Import media into Descript", annotations=CREATES, cost=MEDIA_MINUTES)
async def import_media(
    ctx: Context[Any],
    add_media: Annotated[
        dict[str, MediaSource],
        Field(
            description="Media to import, keyed by its name in the project. Keep the file "
            "extension (interview.mp4, Music/theme.mp3): Descript reads the type from it.",
        ),
    ],
    project_id: Annotated[
        str | None, Field(description="Import into this project; omit to create one")
    ] = None,
    project_name: Annotated[str | None, Field(description="Name of the new project")] = None,
    add_compositions: Annotated[
        list[NewComposition] | None,
        Field(description="Compositions (timelines) to create from the media, in order"),
    ] = None,
    folder_name: Annotated[
        str | None, Field(description="Folder path for a new project, e.g. Clients/Acme")
    ] = None,
    team_access: Annotated[
        TeamAccess | None, Field(description="Drive members' access to a new project")
    ] = None,
    wait_seconds: WaitSeconds = None,
    force: Force = False,
) -> JobSummary:
    """Import audio, video or images into a Descript project, creating the project unless
    project_id is given, and optionally compositions built from the media. Each item comes
    from a URL (Google Drive and Dropbox share links work), a local file (uploaded), or
    other media (a multitrack sequence). Descript transcribes what it imports.

    Costs media minutes (the media's duration). Returns when the import finishes or after
    wait_seconds with the job id: then call get_job to keep waiting, never import again.
    The result lists each media item's outcome; failed items say why.
    """
    state, caller = await caller_of(ctx)
    with ExitStack() as opened:
        items, local = await _plan_media(add_media, ctx, state, caller, opened)
        request = ImportMediaRequest(
            callback_url=state.callbacks.url_for(caller),
            project_id=project_id,
            project_name=project_name,
            folder_name=folder_name,
            team_access=team_access,
            add_media=items,
            add_compositions=add_compositions,
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
        )
