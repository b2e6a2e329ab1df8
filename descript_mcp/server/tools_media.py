"""import_media: bring media into a new or existing project."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from pydantic import BaseModel, ConfigDict, Field, model_validator

from descript_mcp.models import (
    ImportMediaRequest,
    NewComposition,
    SequenceMedia,
    SequenceTrack,
    TeamAccess,
    UrlMedia,
)
from descript_mcp.server.annotations import CREATES
from descript_mcp.server.arguments import WaitSeconds
from descript_mcp.server.registry import tool
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import JobSummary
from descript_mcp.server.waiting import record_submission, wait_and_summarize


class MediaSource(BaseModel):
    """Where one media item comes from: a URL, or tracks of other media (a sequence)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        description="A direct download link Descript can fetch (it must allow HTTP Range "
        "requests); sign it for 12-48 hours if it is signed",
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
    def _one_source(self) -> MediaSource:
        if (self.url is None) == (self.tracks is None):
            raise ValueError("give exactly one of url or tracks")
        return self

    def to_item(self) -> UrlMedia | SequenceMedia:
        if self.tracks is not None:
            return SequenceMedia(tracks=self.tracks)
        assert self.url is not None
        return UrlMedia(url=self.url, language=self.language)


def register(server: MCPServer[Any]) -> None:
    @tool(server, title="Import media into Descript", annotations=CREATES)
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
    ) -> JobSummary:
        """Import audio, video or images into a Descript project, creating the project unless
        project_id is given, and optionally compositions built from the media. Descript
        transcribes what it imports.

        Costs media minutes (the media's duration). Returns when the import finishes or after
        wait_seconds with the job id: then call get_job to keep waiting, never import again.
        The result lists each media item's outcome; failed items say why.
        """
        state, caller = await caller_of(ctx)
        request = ImportMediaRequest(
            project_id=project_id,
            project_name=project_name,
            folder_name=folder_name,
            team_access=team_access,
            add_media={name: source.to_item() for name, source in add_media.items()},
            add_compositions=add_compositions,
        )
        created = await caller.client.import_project_media(request)
        await record_submission(
            state,
            caller,
            created,
            job_type="import/project_media",
            tool="import_media",
            request=request.to_body(),
        )
        return await wait_and_summarize(state, caller, ctx, created.job_id, wait_seconds)
