"""Descript's signed upload and download URLs: reached without the API token, with a client of
their own, and streamed."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx

from descript_mcp.client.http import status_error
from descript_mcp.errors import APIConnectionError

# At most this many bytes of a download are written (and its progress told) at once, however
# many arrived together; what arrived is never held back, so a broken download resumes after it.
DOWNLOAD_CHUNK = 64 * 1024


class SignedURLs:
    """PUT to a signed upload URL, GET a signed download URL (resumable)."""

    def __init__(
        self,
        transport: httpx.AsyncBaseTransport | None,
        tls: ssl.SSLContext,
        user_agent: str,
    ) -> None:
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(60.0, connect=10.0),
            transport=transport,
            verify=tls,
            headers={"User-Agent": user_agent},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def upload(
        self, upload_url: str, content: bytes | AsyncIterable[bytes], *, size: int
    ) -> None:
        """PUT bytes to a signed upload URL (no bearer token), streamed when given an iterable."""
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        try:
            response = await self._http.put(upload_url, content=content, headers=headers)
        except httpx.TransportError as exc:
            raise APIConnectionError(
                f"The upload failed: {type(exc).__name__}.",
                method="PUT",
                path="<signed upload URL>",
                may_have_reached_server=True,
            ) from exc
        if not response.is_success:
            raise status_error(response, method="PUT", path="<signed upload URL>")

    @asynccontextmanager
    async def open_download(self, download_url: str, *, start: int = 0) -> AsyncIterator[Download]:
        """Open a signed download URL (no bearer token), from byte `start` when above 0."""
        headers = {"Range": f"bytes={start}-"} if start else {}
        where = "<signed download URL>"
        try:
            async with self._http.stream("GET", download_url, headers=headers) as response:
                if not response.is_success:
                    await response.aread()
                    raise status_error(response, method="GET", path=where)
                resumed = response.status_code == 206
                yield Download(
                    resumed=resumed,
                    total=_total_size(response, resumed),
                    chunks=_pieces(response.aiter_bytes()),
                )
        except httpx.TransportError as exc:
            raise APIConnectionError(
                f"The download was interrupted: {type(exc).__name__}.",
                method="GET",
                path=where,
                may_have_reached_server=True,
            ) from exc

    async def stream_download(self, download_url: str) -> AsyncIterator[bytes]:
        """The bytes behind a signed download URL, as they arrive."""
        async with self.open_download(download_url) as download:
            async for chunk in download.chunks:
                yield chunk


@dataclass(frozen=True)
class Download:
    """An open download: `resumed` when the server honoured the Range asked for."""

    resumed: bool
    total: int | None
    chunks: AsyncIterator[bytes]


def _total_size(response: httpx.Response, resumed: bool) -> int | None:
    """The whole file's size, from Content-Range (`bytes a-b/total`) or Content-Length."""
    if resumed:
        total = response.headers.get("content-range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = response.headers.get("content-length", "")
    return int(length) if length.isdigit() else None


async def _pieces(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        for start in range(0, len(chunk), DOWNLOAD_CHUNK):
            yield chunk[start : start + DOWNLOAD_CHUNK]
