"""Local files to signed upload URLs and from signed download URLs, streamed in constant memory."""

from __future__ import annotations

import logging
import mimetypes
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

import anyio

from descript_mcp.errors import APIConnectionError, APIStatusError
from descript_mcp.files.roots import LocalFileError

if TYPE_CHECKING:
    from descript_mcp.client import DescriptClient

logger = logging.getLogger("descript_mcp.files")

CHUNK_SIZE = 1024 * 1024
ByteProgress = Callable[[int, int | None], Awaitable[None]]
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


async def file_chunks(
    path: Path, size: int, on_bytes: ByteProgress | None = None
) -> AsyncIterator[bytes]:
    """A file's bytes in chunks, read as they are sent; fails if the file's size changed."""
    sent = 0
    async with await anyio.open_file(path, "rb") as source:
        while chunk := await source.read(min(CHUNK_SIZE, size - sent) or 1):
            sent += len(chunk)
            if sent > size:
                break
            yield chunk
            if on_bytes is not None:
                await on_bytes(sent, size)
    if sent != size:
        raise LocalFileError(f"'{path}' changed size while it was being uploaded.")


async def upload_file(
    client: DescriptClient,
    upload_url: str,
    path: Path,
    size: int,
    on_bytes: ByteProgress | None = None,
) -> None:
    await client.upload(upload_url, file_chunks(path, size, on_bytes), size=size)


Refresh = Callable[[], Awaitable[str]]
# A signed URL answers these when it has expired or was revoked.
_STALE_LINK = (400, 401, 403, 404)
_ATTEMPTS = 3


async def download_file(
    client: DescriptClient,
    url: str,
    destination: Path,
    *,
    overwrite: bool,
    on_bytes: ByteProgress | None = None,
    refresh: Refresh | None = None,
) -> int:
    """Stream `url` into a temporary file beside `destination`, then move it into place.

    An expired link or a dropped connection is retried with a fresh link from `refresh`,
    resuming where it stopped when the server honours Range. Returns the size written.
    """
    partial = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.part")
    written = 0
    try:
        async with await anyio.open_file(partial, "wb") as out:
            for attempt in range(1, _ATTEMPTS + 1):
                try:
                    async with client.open_download(url, start=written) as download:
                        if written and not download.resumed:
                            await out.seek(0)
                            await out.truncate()
                            written = 0
                        async for chunk in download.chunks:
                            await out.write(chunk)
                            written += len(chunk)
                            if on_bytes is not None:
                                await on_bytes(written, download.total)
                    break
                except (APIStatusError, APIConnectionError) as error:
                    stale = not isinstance(error, APIStatusError) or (
                        error.status_code in _STALE_LINK
                    )
                    if refresh is None or not stale or attempt == _ATTEMPTS:
                        raise
                    logger.info("download interrupted (%s); refreshing the link", error.message)
                    url = await refresh()
        _move_into_place(partial, destination, overwrite=overwrite)
    finally:
        partial.unlink(missing_ok=True)
    return written


async def write_file(destination: Path, content: bytes, *, overwrite: bool) -> None:
    """Write `content` to a temporary file beside `destination`, then move it into place."""
    partial = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.part")
    try:
        await anyio.Path(partial).write_bytes(content)
        _move_into_place(partial, destination, overwrite=overwrite)
    finally:
        partial.unlink(missing_ok=True)


def _move_into_place(partial: Path, destination: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(partial, destination)
        return
    try:
        os.link(partial, destination)  # fails if the name was taken meanwhile: never replaces
    except FileExistsError:
        raise LocalFileError(
            f"'{destination}' appeared while downloading; it was not replaced."
        ) from None
    except OSError:  # a file system without hard links
        if destination.exists():
            raise LocalFileError(f"'{destination}' already exists; it was not replaced.") from None
        os.replace(partial, destination)
