"""The sandbox: a local simulator of Descript's REST API, faithful to its contract."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import anyio
from anyio.abc import TaskGroup
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from descript_mcp.sandbox import routes_files, routes_jobs, routes_read, routes_undocumented
from descript_mcp.sandbox.config import SandboxConfig
from descript_mcp.sandbox.engine import Engine
from descript_mcp.sandbox.errors import ApiError, not_found
from descript_mcp.sandbox.faults import FaultPlan, RateLimiter
from descript_mcp.sandbox.http import bearer
from descript_mcp.sandbox.state import World

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int
    at: float
    # The client's id for one logical request, the same across its retries.
    request_id: str | None = None
    retry_after: float | None = None
    token: str | None = None  # whose request it was
    host: str | None = None  # the address it was sent to (one sandbox may listen on several)
    query: tuple[tuple[str, str], ...] = ()  # as sent: repeated keys repeated
    body: bytes = b""  # an API request's JSON, as sent
    headers: tuple[tuple[str, str], ...] = ()  # as received, lower-case names


class Sandbox:
    """State, engine and ASGI app of one simulated Descript.

    `async with Sandbox() as sandbox:` runs its jobs; served by uvicorn, the app's lifespan
    does the same. `sandbox.app` is the ASGI app, mounted at `/v1` like the real API.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.world = World(self.config)
        self.faults = FaultPlan()
        self.requests: list[RequestRecord] = []
        self._rate_limiter = RateLimiter(self.config)
        self.app = Starlette(
            routes=self._routes(),
            lifespan=self._lifespan,
            exception_handlers={404: _route_not_found},
        )
        self.app.state.sandbox = self
        self.engine = Engine(self.config, self.world, self.app, self.faults)
        self._task_group: TaskGroup | None = None

    @property
    def token(self) -> str:
        """The first drive's first token, for demos and tests."""
        return self.config.drives[0].tokens[0]

    async def __aenter__(self) -> Sandbox:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self.engine.attach(self._task_group)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        await self._task_group.__aexit__(None, None, None)
        await self.engine.aclose()

    @asynccontextmanager
    async def _lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        if self.engine.running:
            yield
            return
        async with self:
            yield

    def api_requests(self, method: str, path_pattern: str = "") -> list[RequestRecord]:
        """The API requests received so far with this method whose path contains the pattern."""
        return [r for r in self.requests if r.method == method and path_pattern in r.path]

    def _routes(self) -> list[Route]:
        api = [
            ("POST", "/jobs/import/project_media", routes_jobs.import_project_media),
            ("POST", "/jobs/agent", routes_jobs.agent_edit),
            ("POST", "/jobs/publish", routes_jobs.publish),
            ("POST", "/jobs/export/timeline", routes_undocumented.export_timeline),
            ("POST", "/jobs/import/drive_media", routes_undocumented.import_drive_media),
            ("GET", "/jobs", routes_jobs.list_jobs),
            ("GET", "/jobs/{job_id}", routes_jobs.get_job),
            ("DELETE", "/jobs/{job_id}", routes_jobs.cancel_job),
            ("GET", "/projects", routes_read.list_projects),
            ("GET", "/projects/{project_id}", routes_read.get_project),
            ("GET", "/status", routes_read.status),
            ("GET", "/agent/models", routes_read.agent_models),
            ("GET", "/search", routes_read.search),
            ("POST", "/export/transcript", routes_read.export_transcript),
            ("GET", "/published_projects/{slug}", routes_read.published_project),
        ]
        routes = [
            Route(API_PREFIX + path, self._api(handler), methods=[method])
            for method, path, handler in api
        ]
        routes += [
            Route("/_sandbox/media/{name}", routes_files.sample_media, methods=["GET"]),
            Route(
                "/_sandbox/uploads/{ident}",
                self._logged(routes_files.upload),
                methods=["PUT", "OPTIONS"],
            ),
            Route("/_sandbox/files/{ident}", routes_files.download, methods=["GET"]),
            Route("/_sandbox/view/{slug}", routes_files.share_page, methods=["GET"]),
            Route("/_sandbox/web/{project_id}", routes_files.project_page, methods=["GET"]),
            Route(
                "/_sandbox/web/{project_id}/{short_id}", routes_files.project_page, methods=["GET"]
            ),
        ]
        return routes

    def _api(self, handler: Handler) -> Handler:
        """Wrap an API route: scripted faults, the rate limit, error bodies, the request log."""

        async def endpoint(request: Request) -> Response:
            self.engine.own_hosts.add(request.url.netloc)
            path = request.url.path.removeprefix(API_PREFIX)
            try:
                response = await self._answer(request, path, handler)
            except ApiError as error:
                response = error.response()
            except Exception:
                logger.exception("sandbox route %s %s failed", request.method, path)
                response = JSONResponse(
                    {"error": "internal_error", "message": "Internal server error"},
                    status_code=500,
                )
            response.headers["date"] = format_datetime(self._date(), usegmt=True)
            retry_after = response.headers.get("retry-after")
            self.requests.append(
                RequestRecord(
                    request.method,
                    path,
                    response.status_code,
                    time.monotonic(),
                    request.headers.get("x-client-request-id"),
                    float(retry_after) if retry_after else None,
                    bearer(request),
                    request.headers.get("host"),
                    tuple(request.query_params.multi_items()),
                    await _body_of(request),
                    tuple(request.headers.items()),
                )
            )
            return response

        return endpoint

    def _logged(self, handler: Handler) -> Handler:
        """Wrap a route outside the API (signed uploads): in the request log, its path without
        the query, whose signature is the URL's secret."""

        async def endpoint(request: Request) -> Response:
            response = await handler(request)
            self.requests.append(
                RequestRecord(
                    request.method,
                    request.url.path,
                    response.status_code,
                    time.monotonic(),
                    token=bearer(request),
                    host=request.headers.get("host"),
                    headers=tuple(request.headers.items()),
                )
            )
            return response

        return endpoint

    def _date(self) -> datetime:
        """The moment an answer's Date header names (to the second): as Descript's servers do,
        the moment it leaves, on the sandbox's clock; or that of a cache's last refresh."""
        moment = self.world.now()
        phase = self.config.date_refreshed_at
        if phase is None:
            return moment
        return datetime.fromtimestamp(math.floor(moment.timestamp() - phase) + phase, UTC)

    async def _answer(self, request: Request, path: str, handler: Handler) -> Response:
        token = bearer(request)
        fault = self.faults.take(request.method, path, "before", token)
        if fault is not None:
            await fault.pause()  # any fault may take its time first
            if fault.kind != "latency":
                return fault.response()
        self._check_rate(request)
        response = await handler(request)
        fault = self.faults.take(request.method, path, "after", token)
        if fault is None:
            return response
        await fault.pause()
        if fault.kind == "latency":
            return response
        if fault.kind == "stuck":
            job_id = json.loads(bytes(response.body)).get("job_id")
            if job_id in self.world.jobs:
                self.world.jobs[job_id].stuck = True
            return response
        return fault.response()

    def _check_rate(self, request: Request) -> None:
        token = bearer(request)
        if token in self.world.drive_by_token:
            self._rate_limiter.check(token)


async def _route_not_found(request: Request, _exc: Exception) -> Response:
    if request.url.path.startswith(API_PREFIX):
        return not_found(f"No route {request.method} {request.url.path}").response()
    return Response("Not Found", status_code=404)


async def _body_of(request: Request) -> bytes:
    """The request's body, as the handler read it (or as sent, if it did not); empty when the
    client went away before sending it."""
    try:
        return await request.body()
    except ClientDisconnect:
        return b""
