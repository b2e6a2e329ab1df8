"""Reading the drive: list_projects, get_project, get_drive_status, search_drive."""

from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import AfterValidator, BaseModel, Field

from descript_mcp.client.models import (
    Project,
    ProjectSort,
    SearchHit,
    SearchMatch,
    SearchType,
    visual_alone,
)
from descript_mcp.client.models import ProjectSummary as ProjectItem
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import FROM_DESCRIPT, Compact
from descript_mcp.server.tools.arguments import Cursor, Dated, Limit, ProjectId
from descript_mcp.server.tools.registry import FREE, READS, tool


class ProjectList(BaseModel):
    projects: list[ProjectItem] = Field(description=f"Their names and folders: {FROM_DESCRIPT}")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null at the end")


class SearchResult(Compact):
    type: str = Field(description="project, video, audio, image, project_folder, ...")
    name: str = Field(description=FROM_DESCRIPT)
    project_id: str | None = None
    asset_id: str | None = None
    folder_id: str | None = None
    location: str | None = None
    duration: float | None = None
    url: str | None = None
    updated_at: datetime | None = None


class DriveInfo(Compact):
    drive_id: str | None = None
    drive_name: str | None = None
    api_version: str | None = None


class SearchResults(BaseModel):
    results: list[SearchResult]


def _flatten(hit: SearchHit) -> SearchResult:
    """Every kind of hit in one flat shape: the fields a kind lacks stay null."""
    fields = hit.model_dump(include=set(SearchResult.model_fields))
    return SearchResult.model_validate({**fields, "name": fields.get("name") or ""})


@tool(title="List projects", annotations=READS, cost=FREE)
async def list_projects(
    ctx: Context[Any],
    name: Annotated[str | None, Field(description="Name contains this, any case")] = None,
    folder_path: Annotated[str | None, Field(description="Directly in this folder: A/B")] = None,
    created_by: Annotated[str | None, Field(description="me, or a user's UUID")] = None,
    created_after: Dated = None,
    created_before: Dated = None,
    updated_after: Dated = None,
    updated_before: Dated = None,
    sort: Annotated[ProjectSort | None, Field(description="Default created_at")] = None,
    direction: Annotated[Literal["asc", "desc"] | None, Field(description="Default desc")] = (None),
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ProjectList:
    """The drive's projects, newest first unless sorted. Free."""
    _, caller = await caller_of(ctx)
    page = await caller.client.list_projects_page(
        name=name,
        folder_path=folder_path,
        created_by=created_by,
        created_after=created_after,
        created_before=created_before,
        updated_after=updated_after,
        updated_before=updated_before,
        sort=sort,
        direction=direction,
        limit=limit,
        cursor=cursor,
    )
    return ProjectList(projects=page.items, next_cursor=page.next_cursor)


@tool(title="Get a project", annotations=READS, cost=FREE)
async def get_project(project_id: ProjectId, ctx: Context[Any]) -> Project:
    """A project's media, compositions (their ids) and publishes (share URLs). Free."""
    _, caller = await caller_of(ctx)
    return await caller.client.get_project(project_id)


@tool(title="Check the Descript connection", annotations=READS, cost=FREE)
async def get_drive_status(ctx: Context[Any]) -> DriveInfo:
    """The drive the API token belongs to, and the API version: checks the token. Free."""
    _, caller = await caller_of(ctx)
    status = await caller.client.get_status()
    return DriveInfo(
        drive_id=status.drive_id, drive_name=status.drive_name, api_version=status.api_version
    )


@tool(title="Search the drive", annotations=READS, cost=FREE)
async def search_drive(
    query: Annotated[str, Field(min_length=1)],
    ctx: Context[Any],
    types: list[SearchType] | None = None,
    match: Annotated[
        list[SearchMatch] | None,
        AfterValidator(visual_alone),
        Field(description="Default name and content; visual (Enterprise drives): alone"),
    ] = None,
    owners: Annotated[list[str] | None, Field(description="Owners' user UUIDs")] = None,
    updated_after: Dated = None,
    updated_before: Dated = None,
    sort: Annotated[
        Literal["relevance", "newest", "oldest"] | None, Field(description="Default relevance")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 30,
) -> SearchResults:
    """Search projects, media, folders and what transcripts say (a match in one returns its
    project). Free."""
    _, caller = await caller_of(ctx)
    hits = await caller.client.search(
        query,
        types=types,
        match=match,
        owners=owners,
        updated_after=updated_after,
        updated_before=updated_before,
        sort=sort,
        limit=limit,
    )
    return SearchResults(results=[_flatten(hit) for hit in hits])
