"""Saving a finished job's file (a publish's rendered media, a timeline export), renewing its
signed link when it has expired."""

from __future__ import annotations

from typing import TYPE_CHECKING

from descript_mcp.client.models import PublishJob, TimelineExportJob
from descript_mcp.errors import LocalFileError
from descript_mcp.files.local import ByteProgress, SavePlace
from descript_mcp.files.transfer import download_file

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient


async def download_published(
    client: DescriptClient,
    job: PublishJob,
    place: SavePlace,
    *,
    overwrite: bool,
    on_bytes: ByteProgress | None = None,
) -> int:
    """Download to `place`; a stale link is renewed from the job, then the share page, which
    also signs one for a publish that ended without (when Descript's signing failed)."""
    result = job.result
    if result is None or result.status != "success":
        raise LocalFileError(f"Publish {job.job_id} has no file to download.")
    current = result.download_url
    share_url = result.share_url

    async def fresh_link() -> str:
        nonlocal current
        latest = getattr(await client.get_job(job.job_id), "result", None)
        url: str | None = getattr(latest, "download_url", None)
        if (not url or url == current) and share_url:
            url = (await client.get_published_project(share_url)).download_url
        if not url:
            raise LocalFileError("The download link expired and Descript gave no new one.")
        current = url
        return url

    if current is None:
        current = await fresh_link()
    return await download_file(
        client, current, place, overwrite=overwrite, on_bytes=on_bytes, refresh=fresh_link
    )


async def download_timeline(
    client: DescriptClient,
    job: TimelineExportJob,
    place: SavePlace,
    *,
    overwrite: bool,
    on_bytes: ByteProgress | None = None,
) -> int:
    """Download a finished timeline export's file to `place`; a stale link is renewed from the
    job, the only place it is offered."""
    result = job.result
    if result is None or result.status != "success" or not result.download_url:
        raise LocalFileError(f"Timeline export {job.job_id} has no file to download.")

    async def fresh_link() -> str:
        latest = getattr(await client.get_job(job.job_id), "result", None)
        url: str | None = getattr(latest, "download_url", None)
        if not url:
            raise LocalFileError("The download link expired and Descript gave no new one.")
        return url

    return await download_file(
        client,
        result.download_url,
        place,
        overwrite=overwrite,
        on_bytes=on_bytes,
        refresh=fresh_link,
    )
