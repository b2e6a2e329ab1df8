"""Local files in tool calls: the roots in force, uploads of import media, saved downloads."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context
from mcp.shared.exceptions import MCPDeprecationWarning

from descript_mcp.client.models import Job, PublishJob, UploadTarget
from descript_mcp.errors import DescriptError, LocalFileError
from descript_mcp.files.local import ReadableFile, SavePlace
from descript_mcp.files.published import download_published
from descript_mcp.files.roots import Roots, root_from_uri
from descript_mcp.files.transfer import upload_file
from descript_mcp.server.callers import Caller
from descript_mcp.server.state import ServerState
from descript_mcp.server.summaries import JobSummary, summarize
from descript_mcp.server.tools.progress import CallProgress, size_text

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient

logger = logging.getLogger(__name__)


# Over HTTP the server's disk is not the caller's: off unless the operator turns it on.
HTTP_OFF = (
    "Local files are off over HTTP: this server's disk is not your computer. Import from a URL "
    "instead; or ask whoever runs the server to start it with --http-local-files, which gives "
    "each user a folder of their own on it."
)


async def roots_for(ctx: Context[Any], state: ServerState, caller: Caller) -> Roots:
    """The folders the caller may use. On stdio: the configured roots, narrowed to the
    client's own when it announces some. Over HTTP: the caller's own folder under each root,
    if the operator allowed local files over HTTP at all."""
    settings = state.settings
    if caller.over_http:
        if not settings.http_local_files:
            return Roots((), off=HTTP_OFF)
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


@dataclass(frozen=True)
class LocalMedia:
    """A media item of an import, from a file opened when it was checked."""

    name: str
    file: ReadableFile

    @property
    def size(self) -> int:
        return self.file.size


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


async def with_saved_file(
    caller_client: DescriptClient,
    job: Job,
    destination: SavePlace | None,
    *,
    overwrite: bool,
    progress: CallProgress,
) -> JobSummary:
    """The job's summary; for a finished publish with `destination`, its file saved there."""
    summary = summarize(job)
    if destination is None:
        return summary
    if not isinstance(job, PublishJob):
        summary.summary += " download_to applies to publish jobs only: nothing was saved."
        return summary
    if not job.is_terminal:
        summary.summary += (
            " To save the file once it is done, call get_job with this job_id and download_to."
        )
        return summary
    if job.result is None or job.result.status != "success" or not job.result.download_url:
        return summary
    progress.next_phase(100.0)  # the job's share of the call, as in wait_for

    async def report(written: int, total: int | None) -> None:
        size = total or written
        message = f"Saving {destination.name}: {size_text(written)} of {size_text(size)}"
        await progress.report(written, size, message)

    saved = await download_published(
        caller_client, job, destination, overwrite=overwrite, on_bytes=report
    )
    summary.saved_to, summary.saved_bytes = str(destination.shown), saved
    summary.summary += f" Saved to {destination.shown} ({size_text(saved)})."
    return summary
