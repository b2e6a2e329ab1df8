"""Local files in tool calls: the roots in force, uploads of import media, saved downloads."""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPDeprecationWarning

from descript_mcp.client.models import PublishJob, TimelineExportJob, UploadMedia, UploadTarget
from descript_mcp.errors import DescriptError, LocalFileError
from descript_mcp.files.local import ReadableFile, SavePlace
from descript_mcp.files.published import download_published, download_timeline
from descript_mcp.files.quota import MIB, Allowance, size_text
from descript_mcp.files.roots import Roots, root_from_uri
from descript_mcp.files.transfer import content_type_of, upload_file
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import ServerState
from descript_mcp.server.tools import HTTP_OFF
from descript_mcp.server.tools.progress import CallProgress

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient

logger = logging.getLogger(__name__)


# What an import with a path is told over HTTP: the way to send a file from the caller's side.
HTTP_OFF_FOR_IMPORTS = HTTP_OFF.replace(
    "Import from a URL instead;",
    "Import from a URL, or give the item file_size (and content_type) instead of path: the "
    "answer has the signed URL to send the file to and the command that does it;",
)


async def roots_for(ctx: Context[Any], state: ServerState, caller: Caller) -> Roots:
    """The folders the caller may use. On stdio: the configured roots, narrowed to the
    client's own when it announces some. Over HTTP: the caller's own folder under each root,
    if the operator allowed local files over HTTP at all."""
    settings = state.settings
    if caller.over_http:
        if not settings.http_local_files:
            return Roots((), off=HTTP_OFF_FOR_IMPORTS)
        return Roots.of(settings.roots).for_user(caller.owner)
    roots = Roots.of(settings.roots)
    capabilities = ctx.client_capabilities
    if not roots.folders or capabilities is None or capabilities.roots is None:
        return roots
    try:
        with warnings.catch_warnings():
            # Roots are deprecated in 2026-07-28 but still what 2025-11-25 clients announce.
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            announced = (await ctx.session.list_roots()).roots
    except Exception as exc:  # a 2026-07-28 connection has no way to ask: keep the configured
        logger.debug("could not list the client's roots: %s", exc)
        return roots
    folders = [folder for r in announced if (folder := root_from_uri(str(r.uri))) is not None]
    return roots.narrowed_to(folders) if folders else roots


@asynccontextmanager
async def room_to_save(
    state: ServerState, caller: Caller, roots: Roots
) -> AsyncIterator[Allowance]:
    """What one save may write: at most the largest file the server saves (max_save_mb); over
    HTTP also what the caller's folders still hold room for (http_quota_mb), counted with their
    other saves waiting their turn."""
    settings = state.settings
    largest = Allowance(
        settings.max_save_mb * MIB,
        f"this server saves files of at most {settings.max_save_mb} MiB ("
        + (
            "DESCRIPT_MCP_MAX_SAVE_MB): download it from its link instead, or ask whoever runs "
            "the server to raise it"
            if caller.over_http
            else "DESCRIPT_MCP_MAX_SAVE_MB or --max-save-mb raises it)"
        ),
    )
    if not caller.over_http:
        yield largest
        return
    async with state.saves.one_at_a_time(caller.owner):
        quota = settings.http_quota_mb * MIB
        yield await state.saves.allowance(caller.owner, roots.folders, quota, largest)


@dataclass(frozen=True)
class LocalMedia:
    """A media item of an import, from a file opened when it was checked."""

    name: str
    file: ReadableFile

    @classmethod
    def open(cls, name: str, roots: Roots, path: str, opened: ExitStack) -> LocalMedia:
        """The file at `path`, checked and opened, held open by `opened` until it is sent."""
        if not PurePosixPath(name).suffix:
            raise LocalFileError(
                f"Give the media name '{name}' a file extension (like {name}.mp4): "
                "Descript reads the media type from it."
            )
        return cls(name, opened.enter_context(roots.open_readable(path)))

    @property
    def size(self) -> int:
        return self.file.size

    def upload(self, language: str | None) -> UploadMedia:
        """The import's item for this file: sent by direct upload."""
        return UploadMedia(
            content_type=content_type_of(self.name), file_size=self.size, language=language
        )


@dataclass(frozen=True)
class UploadFailure:
    name: str
    reason: str


async def upload_all(
    client: DescriptClient,
    files: list[LocalMedia],
    targets: dict[str, UploadTarget],
    progress: CallProgress,
) -> list[UploadFailure]:
    """PUT each file to its signed URL in turn. At the first failure the rest are not sent:
    the import cannot finish without them. Returns the failures, by media name."""
    total = sum(f.size for f in files)
    done_before = 0
    for index, media in enumerate(files):

        async def report(
            sent: int, _size: int | None, media: LocalMedia = media, before: int = done_before
        ) -> None:
            message = (
                f"Uploading {media.name}: {size_text(sent)} of {size_text(media.size)} "
                f"({size_text(before + sent)} of {size_text(total)} in all)"
            )
            await progress.report(before + sent, total, message)

        target = targets.get(media.name)
        try:
            if target is None:
                raise LocalFileError("Descript returned no upload URL for it.")
            await upload_file(client, target.upload_url, media.file, report)
        except (DescriptError, OSError) as error:  # OSError: the file changed or went away
            skipped = [
                UploadFailure(m.name, f"not uploaded after {media.name} failed")
                for m in files[index + 1 :]
            ]
            return [UploadFailure(media.name, f"upload failed: {error}"), *skipped]
        done_before += media.size
    return []


async def save_job_file(
    client: DescriptClient,
    job: PublishJob | TimelineExportJob,
    destination: SavePlace,
    *,
    overwrite: bool,
    progress: CallProgress,
) -> int:
    """A finished job's file saved at `destination`, its bytes reported as this call's next
    phase of progress; the bytes saved."""
    await progress.next_phase(100.0)  # the job's share of the call, as in wait_for

    async def report(written: int, total: int | None) -> None:
        size = total or written
        message = f"Saving {destination.name}: {size_text(written)} of {size_text(size)}"
        await progress.report(written, size, message)

    if isinstance(job, PublishJob):
        return await download_published(
            client, job, destination, overwrite=overwrite, on_bytes=report
        )
    return await download_timeline(client, job, destination, overwrite=overwrite, on_bytes=report)
