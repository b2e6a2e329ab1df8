"""Runs jobs in the background, fetches media URLs and posts callbacks."""

from __future__ import annotations

import functools
import ipaddress
import logging
import ssl
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
from anyio.abc import TaskGroup
from starlette.types import ASGIApp

from descript_mcp.sandbox.config import SandboxConfig
from descript_mcp.sandbox.faults import FaultPlan
from descript_mcp.sandbox.state import Job, World

logger = logging.getLogger(__name__)

HEAD_BYTES = 64 * 1024
NOT_ACCESSIBLE = "Media URL is not accessible or does not support Range requests"


class MediaFetchError(Exception):
    pass


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One for every sandbox in the process: each client would otherwise load the CA bundle
    again (about 50 ms), and tests start a sandbox each. Its own, not the client's
    `shared_tls_context`: the sandbox imports nothing of the client side."""
    return httpx.create_ssl_context()


@dataclass
class FetchedMedia:
    head: bytes
    size: int


class Engine:
    """The sandbox's moving parts. Lives while the sandbox runs (see app.Sandbox)."""

    def __init__(
        self, config: SandboxConfig, world: World, app: ASGIApp, faults: FaultPlan
    ) -> None:
        self.config = config
        self.world = world
        self.faults = faults
        self._task_group: TaskGroup | None = None
        # Host names the sandbox has been reached by: URLs on them are answered in-process.
        self.own_hosts: set[str] = set()
        # The sandbox's own URLs are served in-process, so they work without a socket too.
        self._own = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
        self._net = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0),
            verify=_tls_context(),
            follow_redirects=True,
            event_hooks={"request": [self._check_target]},
        )

    def attach(self, task_group: TaskGroup) -> None:
        self._task_group = task_group

    async def aclose(self) -> None:
        await self._own.aclose()
        await self._net.aclose()

    @property
    def running(self) -> bool:
        return self._task_group is not None

    def start(self, job: Job, work: Coroutine[Any, Any, None]) -> None:
        """Run a job's lifecycle in the background."""
        if self._task_group is None:
            work.close()
            raise RuntimeError("the sandbox is not running: enter `async with Sandbox()` first")
        self._task_group.start_soon(self._run, job, work)

    def cancel(self, job: Job) -> None:
        if job.stopped_at is None:
            job.cancel()
            job.cancel_scope.cancel()

    async def _run(self, job: Job, work: Coroutine[Any, Any, None]) -> None:
        with job.cancel_scope:
            try:
                await work
            except Exception:
                logger.exception("job %s failed inside the sandbox", job.id)
                job.stop(
                    {
                        "status": "error",
                        "error_message": "Internal error while processing the job",
                        "error_code": "internal_error",
                    }
                )
        if job.callback_url:
            with anyio.CancelScope(shield=True):
                await self._post_callback(job)

    async def _post_callback(self, job: Job) -> None:
        if job.callback_url is None:
            return
        # A fault on method CALLBACK (path: the job type) loses the callback, as networks do.
        if self.faults.take("CALLBACK", job.type, "before") is not None:
            logger.info("callback for %s lost to a fault", job.id)
            return
        try:
            response = await self._client_for(job.callback_url).post(
                job.callback_url, json=job.to_json()
            )
            logger.info("callback for %s -> %d", job.id, response.status_code)
        except (httpx.HTTPError, MediaFetchError) as exc:
            logger.warning("callback for %s failed: %s", job.id, type(exc).__name__)

    async def fetch_media(self, url: str) -> FetchedMedia:
        """Fetch a media URL the way Descript does: it must answer a Range request with 206."""
        head = bytearray()
        size = 0
        try:
            async with self._client_for(url).stream(
                "GET", url, headers={"Range": "bytes=0-"}
            ) as response:
                if response.status_code != 206:
                    raise MediaFetchError(NOT_ACCESSIBLE)
                async for chunk in response.aiter_raw():
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                    size += len(chunk)
                    if size > self.config.max_fetch_bytes:
                        raise MediaFetchError("Media file is too large")
        except httpx.HTTPError as exc:
            raise MediaFetchError(NOT_ACCESSIBLE) from exc
        return FetchedMedia(head=bytes(head), size=size)

    def _client_for(self, url: str | None) -> httpx.AsyncClient:
        return self._own if urlsplit(url or "").netloc in self.own_hosts else self._net

    async def _check_target(self, request: httpx.Request) -> None:
        if self.config.allow_remote_urls or _is_loopback(request.url.host):
            return
        raise MediaFetchError(f"{NOT_ACCESSIBLE} (the sandbox fetches loopback URLs only)")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
