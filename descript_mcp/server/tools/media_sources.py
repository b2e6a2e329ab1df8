"""Where an import's media come from, as a job tool's arguments name them, and the API's
items they make: shared by the imports into a project and into the drive's media library."""

from collections.abc import Mapping
from contextlib import ExitStack
from typing import Any, Self

from mcp.server.mcpserver import Context
from pydantic import BaseModel, ConfigDict, Field, model_validator

from descript_mcp.client.models import MediaItem, SequenceMedia, SequenceTrack, UrlMedia
from descript_mcp.files.roots import Roots
from descript_mcp.files.sharelinks import direct_download_url
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import ServerState
from descript_mcp.server.tools.local_files import LocalMedia, roots_for
from descript_mcp.server.tools.samples import resolved
from descript_mcp.server.upload_links import sent_by_caller as sent_item


class FileSource(BaseModel):
    """Where one file comes from: a URL, a file on this computer, or the caller, who sends the
    file's bytes to the signed URL the answer gives (direct upload)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        default=None,
        description="A direct link (Range requests) or a public Google Drive or Dropbox share link",
    )
    path: str | None = Field(
        default=None, description="A file on this computer (absolute path), uploaded"
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
        fields = self.source_fields()
        if sum(getattr(self, name) is not None for name in fields) != 1:
            raise ValueError(f"give exactly one of {', '.join(fields[:-1])} or {fields[-1]}")
        return self

    @classmethod
    def source_fields(cls) -> tuple[str, ...]:
        return ("url", "path", "file_size")


class MediaSource(FileSource):
    """A file, or other media of the import or the project played together (a sequence)."""

    tracks: list[SequenceTrack] | None = Field(
        default=None, description="Multitrack: other media of this import or the project"
    )

    @classmethod
    def source_fields(cls) -> tuple[str, ...]:
        return ("url", "path", "tracks", "file_size")


async def plan_media(
    add_media: Mapping[str, FileSource],
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
        tracks = getattr(source, "tracks", None)
        if tracks is not None:
            items[name] = SequenceMedia(tracks=tracks)
        elif source.url is not None:
            url = direct_download_url(resolved(source.url, state.settings.sandbox_media))
            items[name] = UrlMedia(url=url, language=source.language)
        elif source.file_size is not None:
            items[name] = sent_item(name, source.file_size, source.content_type, source.language)
        else:
            assert source.path is not None
            roots = roots or await roots_for(ctx, state, caller)
            media = LocalMedia.open(name, roots, source.path, opened)
            items[name] = media.upload(source.language)
            local.append(media)
    return items, local


def sent_by_caller(add_media: Mapping[str, FileSource]) -> list[str]:
    """The media whose bytes the caller sends itself."""
    return [name for name, source in add_media.items() if source.file_size is not None]
