"""The uploads toolset: a view in the chat (MCP Apps) where a person picks files on their own
computer, which their browser sends straight to Descript's signed upload URLs: never through
this server, never with the Descript token. upload_media opens it; start_upload is the view's."""

from typing import Annotated, Any

from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, ConfigDict, Field

from descript_mcp.client.models import ImportMediaRequest, MediaItem, NewComposition
from descript_mcp.files.transfer import content_type_of
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import Compact, JobSummary
from descript_mcp.server.tools.arguments import Force
from descript_mcp.server.tools.flow import submit_and_wait
from descript_mcp.server.tools.registry import CREATES, MEDIA_MINUTES, tool
from descript_mcp.server.upload_links import sent_by_caller

# An import's files at most, from one view.
MAX_PICKED = 20
MEDIA_KINDS = ("audio/", "video/", "image/")


class UploadInvite(Compact):
    summary: str
    shows_view: bool = Field(description="Whether this client shows the view (MCP Apps)")
    project_id: str | None = None
    project_name: str | None = None
    composition_name: str | None = None


@tool(title="Upload files from this computer", annotations=CREATES, cost=MEDIA_MINUTES)
async def upload_media(
    ctx: Context[Any],
    project_id: Annotated[str | None, Field(description="Default: a new project")] = None,
    project_name: str | None = None,
    composition_name: Annotated[
        str | None, Field(description="A timeline of the files, in order")
    ] = None,
) -> UploadInvite:
    """A view in the chat where the person drops files from their computer for Descript to
    import. Their browser sends the audio, video or images to Descript and the view follows the
    import: use it when they want to import a file of theirs. Costs media minutes once
    imported. Without views (MCP Apps), import_media with file_size gives the command to send
    a file."""
    shows = client_supports_apps(ctx)
    if shows:
        summary = (
            "The upload view is shown: the person picks the files and starts the import there, "
            "and sees it through. It tells you the import's job when it starts; get_job follows it."
        )
    else:
        summary = (
            "This client shows no views (MCP Apps). Ask the person for each file's name and size "
            "in bytes, then call import_media with file_size for each: its answer has the command "
            "that sends each file from their computer."
        )
    return UploadInvite(
        summary=summary,
        shows_view=shows,
        project_id=project_id,
        project_name=project_name,
        composition_name=composition_name,
    )


class PickedFile(BaseModel):
    """A file the person picked, as their browser describes it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="With its extension")
    file_size: int = Field(ge=1)
    content_type: str | None = None
    last_modified: int | None = Field(
        default=None, description="Milliseconds since 1970: tells apart files of one name"
    )


@tool(
    title="Start the import of picked files",
    annotations=CREATES,
    cost=MEDIA_MINUTES,
    app_only=True,
)
async def start_upload(
    ctx: Context[Any],
    files: Annotated[list[PickedFile], Field(min_length=1, max_length=MAX_PICKED)],
    project_id: str | None = None,
    project_name: str | None = None,
    composition_name: str | None = None,
    force: Force = False,
) -> JobSummary:
    """The upload view's: start the import of the files the person picked; the answer has each
    file's upload URL, for the browser to send it to. Models use import_media."""
    state, caller = await caller_of(ctx)
    names = [picked.name for picked in files]
    if len(set(names)) != len(names):
        raise ToolError("Each file needs a name of its own in one import.")
    items: dict[str, MediaItem] = {}
    for picked in files:
        # Descript reads the type from the name's extension: the browser's, if it agrees.
        given = picked.content_type or ""
        content_type = given if given.startswith(MEDIA_KINDS) else content_type_of(picked.name)
        if not content_type.startswith(MEDIA_KINDS):
            raise ToolError(f"{picked.name} is not audio, video or an image.")
        items[picked.name] = sent_by_caller(picked.name, picked.file_size, content_type)
    compositions = None
    if composition_name:
        clips = [{"media": name} for name in names]
        compositions = [NewComposition.model_validate({"name": composition_name, "clips": clips})]
    request = ImportMediaRequest(
        project_id=project_id,
        project_name=None if project_id else project_name,
        add_media=items,
        add_compositions=compositions,
    )
    return await submit_and_wait(
        ctx,
        state,
        caller,
        caller.client.import_project_media,
        request,
        force=force,
        wait_seconds=0,
        sent_by_caller=names,
        picked=[[p.name, p.file_size, p.last_modified] for p in files],
    )
