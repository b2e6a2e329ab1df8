"""Projects, search hits, drive status, agent models, transcripts and published pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Discriminator, Field, Tag

from descript_mcp.client.models._base import ResponseModel

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a cursor-paginated list; `next_cursor` is None on the last page. An item
    that cannot be read at all is kept, as it came, in `unreadable`, and the rest still are."""

    items: list[T]
    next_cursor: str | None
    unreadable: list[Any] = field(default_factory=list)


class ProjectSummary(ResponseModel):
    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    folder_path: str | None = None


class MediaFile(ResponseModel):
    type: str
    duration: float | None = None


class Composition(ResponseModel):
    id: str
    name: str
    duration: float | None = None
    media_type: str | None = None


class PublishRecord(ResponseModel):
    share_url: str
    composition_id: str | None = None
    access_level: str | None = None
    media_type: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    name: str | None = None


class Project(ResponseModel):
    id: str
    name: str
    drive_id: str
    created_at: datetime
    updated_at: datetime
    folder_path: str | None = None
    media_files: dict[str, MediaFile] = Field(default_factory=dict)
    compositions: list[Composition] = Field(default_factory=list)
    publishes: list[PublishRecord] = Field(default_factory=list)


class DriveStatus(ResponseModel):
    """GET /status. Before mid-2026 it answered only `{"status": "ok"}`: read either shape."""

    drive_id: str | None = None
    drive_name: str | None = None
    api_version: str | None = None
    status: str | None = None


class AgentModel(ResponseModel):
    id: str
    cost: str


class AgentModelAlias(ResponseModel):
    id: str
    resolves_to: str = Field(alias="resolvesTo")
    description: str | None = None
    cost: str


class AgentModels(ResponseModel):
    """GET /agent/models: the one camelCase body of the API."""

    available_models: list[AgentModel] = Field(alias="availableModels")
    aliases: list[AgentModelAlias] = Field(default_factory=list)


class SearchOwner(ResponseModel):
    id: str
    name: str


class _SearchHit(ResponseModel):
    name: str
    updated_at: datetime
    url: str | None = None
    owner: SearchOwner | None = None


class ProjectHit(_SearchHit):
    type: Literal["project", "layout_pack"]
    project_id: str


class MediaHit(_SearchHit):
    type: Literal["video", "image", "audio"]
    asset_id: str
    location: str
    project_id: str | None = None
    brand_studio_id: str | None = None
    thumbnail_url: str | None = None
    duration: float | None = None


class FolderHit(_SearchHit):
    type: Literal["project_folder", "media_library_folder"]
    folder_id: str
    location: str | None = None


class OtherHit(ResponseModel):
    type: str


def _hit_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if kind in ("project", "layout_pack"):
        return "project"
    if kind in ("video", "image", "audio"):
        return "media"
    if kind in ("project_folder", "media_library_folder"):
        return "folder"
    return "other"


SearchHit = Annotated[
    Annotated[ProjectHit, Tag("project")]
    | Annotated[MediaHit, Tag("media")]
    | Annotated[FolderHit, Tag("folder")]
    | Annotated[OtherHit, Tag("other")],
    Discriminator(_hit_tag),
]


class SearchResults(ResponseModel):
    results: list[SearchHit]


@dataclass(frozen=True)
class TranscriptFile:
    """POST /export/transcript answers with the file itself, not JSON."""

    content: bytes
    content_type: str
    filename: str | None
    composition_id: str | None

    @property
    def is_text(self) -> bool:
        return not self.content_type.startswith("application/vnd.openxmlformats")

    def text(self) -> str:
        return self.content.decode("utf-8")


class PublishedBy(ResponseModel):
    first_name: str | None = None
    last_name: str | None = None


class PublishedMetadata(ResponseModel):
    title: str | None = None
    duration_seconds: float | None = None
    duration_formatted: str | None = None
    published_at: datetime | None = None
    published_by: PublishedBy | None = None


class PublishedProject(ResponseModel):
    """GET /published_projects/{slug}: a share page's metadata, a fresh download URL, subtitles."""

    project_id: str
    publish_type: str
    privacy: str
    metadata: PublishedMetadata
    subtitles: str
    download_url: str | None = None
    download_url_expires_at: datetime | None = None
