"""Reading the drive: list_projects, get_project, get_drive_status, search_drive."""

from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from descript_mcp.client.models import (
    Project,
    ProjectSort,
    SearchHit,
    SearchType,
)
from descript_mcp.client.models import ProjectSummary as ProjectItem
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import FROM_DESCRIPT, Compact
from descript_mcp.server.tools.arguments import Cursor, Limit, ProjectId
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
    name: Annotated[str | None, Field(description="Name contains this (any case)")] = None,
    folder_path: Annotated[
        str | None,
        Field(description="Only projects directly in this folder, e.g. Clients/Acme"),
    ] = None,
    created_by: Annotated[str | None, Field(description="me, or a user's UUID")] = None,
    sort: Annotated[ProjectSort | None, Field(description="Default created_at")] = None,
    direction: Annotated[Literal["asc", "desc"] | None, Field(description="Default desc")] = (None),
    limit: Limit = 20,
    cursor: Cursor = None,
) -> ProjectList:
    """List the drive's projects, newest first unless sorted otherwise. Free."""
    _, caller = await caller_of(ctx)
    page = await caller.client.list_projects_page(
        name=name,
        folder_path=folder_path,
        created_by=created_by,
        sort=sort,
        direction=direction,
        limit=limit,
        cursor=cursor,
    )
    return ProjectList(projects=page.items, next_cursor=page.next_cursor)


@tool(title="Get a project", annotations=READS, cost=FREE)
async def get_project(project_id: ProjectId, ctx: Context[Any]) -> Project:
    """A project's media files, compositions (with ids for agent_edit, publish and
    export_transcript) and earlier publishes with their share URLs. Free."""
    _, caller = await caller_of(ctx)
    return await caller.client.get_project(project_id)


@tool(title="Check the Descript connection", annotations=READS, cost=FREE)
async def get_drive_status(ctx: Context[Any]) -> DriveInfo:
    """Which Descript drive the API token belongs to, and the API version. Use it to check
    the token works. Free."""
    _, caller = await caller_of(ctx)
    status = await caller.client.get_status()
    return DriveInfo(
        drive_id=status.drive_id, drive_name=status.drive_name, api_version=status.api_version
    )


@tool(title="Search the drive", annotations=READS, cost=FREE)
async def search_drive(
    query: Annotated[str, Field(min_length=1, description="Words to look for")],
    ctx: Context[Any],
    types: Annotated[
        list[SearchType] | None, Field(description="Only these kinds of results")
    ] = None,
    match: Annotated[
        list[Literal["name", "content"]] | None,
        Field(description="Match names, transcript content, or both (default)"),
    ] = None,
    sort: Annotated[
        Literal["relevance", "newest", "oldest"] | None, Field(description="Default relevance")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="At most this many results")] = 30,
) -> SearchResults:
    """Search the drive's projects, media, folders and what is said in transcripts (a
    transcript match returns its project). Free."""
    _, caller = await caller_of(ctx)
    hits = await caller.client.search(query, types=types, match=match, sort=sort, limit=limit)
    return SearchResults(results=[_flatten(hit) for hit in hits])
