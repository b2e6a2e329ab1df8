"""Local files to signed upload URLs and from signed download URLs, streamed in constant memory."""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Awaitable, Callable
from pathlib import PurePath
from typing import TYPE_CHECKING

from descript_mcp.errors import APIConnectionError, APIStatusError
from descript_mcp.files.local import ByteProgress, ReadableFile, SavePlace

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient

logger = logging.getLogger(__name__)

# Types by extension for media Descript imports; the platform's table can be thin.
MEDIA_TYPES = {
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".opus": "audio/opus",
    ".aiff": "audio/aiff",
    ".mp4": "video/mp4",
    ".m4v": "video/x-m4v",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".avi": "video/x-msvideo",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


def content_type_of(name: str | PurePath) -> str:
    suffix = PurePath(name).suffix.lower()
    return (
        MEDIA_TYPES.get(suffix)
        or mimetypes.guess_type(f"x{suffix}")[0]
        or ("application/octet-stream")
    )


async def upload_file(
    client: DescriptClient,
    upload_url: str,
    file: ReadableFile,
    on_bytes: ByteProgress | None = None,
) -> None:
    """Stream an open file to a signed upload URL, from its descriptor."""
    await client.signed.upload(upload_url, file.chunks(on_bytes), size=file.size)


Refresh = Callable[[], Awaitable[str]]
# A signed URL answers these when it has expired or was revoked.
_STALE_LINK = (400, 401, 403, 404)
_ATTEMPTS = 3


async def download_file(
    client: DescriptClient,
    url: str,
    place: SavePlace,
    *,
    overwrite: bool,
    on_bytes: ByteProgress | None = None,
    refresh: Refresh | None = None,
) -> int:
    """Stream `url` into a temporary file beside the target, then move it into place; no more
    than the place's room, if it has one.

    An expired link or a dropped connection is retried with a fresh link from `refresh`,
    resuming where it stopped when the server honours Range. Returns the size written.
    """
    written = 0
    async with place.partial() as (temporary, out):
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with client.signed.open_download(url, start=written) as download:
                    if written and not download.resumed:
                        await out.seek(0)
                        await out.truncate()
                        written = 0
                    if place.room is not None:
                        place.room.expect(download.total)
                    async for chunk in download.chunks:
                        if place.room is not None:
                            place.room.check(written + len(chunk))
                        await out.write(chunk)
                        written += len(chunk)
                        if on_bytes is not None:
                            await on_bytes(written, download.total)
                break
            except (APIStatusError, APIConnectionError) as error:
                stale = not isinstance(error, APIStatusError) or (error.status_code in _STALE_LINK)
                if refresh is None or not stale or attempt == _ATTEMPTS:
                    raise
                logger.info("download interrupted (%s); refreshing the link", error.message)
                url = await refresh()
        await out.flush()
        place.commit(temporary, overwrite=overwrite)
    return written


async def write_file(place: SavePlace, content: bytes, *, overwrite: bool) -> None:
    """Write `content` to a temporary file beside the target, then move it into place."""
    if place.room is not None:
        place.room.expect(len(content))
    async with place.partial() as (temporary, out):
        await out.write(content)
        await out.flush()
        place.commit(temporary, overwrite=overwrite)
