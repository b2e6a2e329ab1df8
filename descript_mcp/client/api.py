"""DescriptClient: the async client for Descript's REST API (v1, spec 1.2). Imports no MCP."""

from __future__ import annotations

import functools
import os
import re
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from email.message import Message
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import anyio
import httpx
from pydantic import TypeAdapter

from descript_mcp._version import __version__
from descript_mcp.client.http import RequestSender, Sleep
from descript_mcp.client.ledger import DedupeKey, InMemoryLedger, SubmissionLedger
from descript_mcp.client.models import (
    AgentEditRequest,
    AgentJobCreated,
    AgentModels,
    DriveImportCreated,
    DriveStatus,
    ExportTimelineRequest,
    ExportTranscriptRequest,
    ImportDriveMediaRequest,
    ImportJobCreated,
    ImportMediaRequest,
    Job,
    JobCreated,
    ListJobsType,
    Page,
    Project,
    ProjectSort,
    ProjectSummary,
    PublishedProject,
    PublishRequest,
    SearchHit,
    SearchMatch,
    SearchResults,
    SearchType,
    TimelineExportCreated,
    TranscriptFile,
    visual_alone,
)
from descript_mcp.client.parsing import parse, parse_model, parse_page
from descript_mcp.client.recovery import Target
from descript_mcp.client.retry import RetryPolicy
from descript_mcp.client.signed import SignedURLs
from descript_mcp.client.submission import Submitter
from descript_mcp.errors import check_id
from descript_mcp.settings import API_KEY_ENV, API_URL_ENV, DEFAULT_API_URL

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = f"descript-mcp/{__version__} (+https://github.com/descript-mcp/descript-mcp)"

_JOB = TypeAdapter(Job)
_PROJECT = TypeAdapter(ProjectSummary)


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """The TLS settings every client shares (httpx's defaults, SSL_CERT_FILE honoured). Each
    would otherwise load the CA bundle, about 100 ms and 1.6 MiB, and a server over HTTP makes
    a client for each user's token."""
    return httpx.create_ssl_context()


class DescriptClient:
    """Async client for the Descript API. Use as `async with DescriptClient() as client:`.

    The token and base URL default to DESCRIPT_API_KEY and DESCRIPT_API_URL, the names
    Descript's own CLI reads. Job-creating calls are never sent twice (`submission.Submitter`);
    clients working on the same drive see each other's submissions through a shared `ledger`.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
        clock: Callable[[], float] = time.monotonic,
        ledger: SubmissionLedger | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/",
            timeout=timeout,
            transport=transport,
            verify=shared_tls_context(),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        # Signed upload and download URLs: a client of their own, which never has the token.
        self.signed = SignedURLs(transport, shared_tls_context(), USER_AGENT)
        self._sender = RequestSender(
            self._http, api_key=key, retry=retry or RetryPolicy(), sleep=sleep, clock=clock
        )
        self._ledger = ledger or InMemoryLedger()
        self._submitter = Submitter(self, self._sender, self._ledger)

    @property
    def retry(self) -> RetryPolicy:
        return self._sender.retry

    async def __aenter__(self) -> DescriptClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.signed.aclose()

    # -- jobs -------------------------------------------------------------------------------

    # A `dedupe` key refuses the same submission twice within its window (DuplicateSubmissionError).

    async def import_project_media(
        self, request: ImportMediaRequest, *, dedupe: DedupeKey | None = None
    ) -> ImportJobCreated:
        """Start an import into a new or existing project (media minutes are spent)."""
        target = Target(
            request.job_type,
            request.project_id,
            None if request.project_id else request.project_name,
            needs_upload_urls=_uploads(request.add_media),
        )
        return await self._submitter.submit(
            "jobs/import/project_media", request.to_body(), ImportJobCreated, target, dedupe
        )

    async def import_drive_media(
        self, request: ImportDriveMediaRequest, *, dedupe: DedupeKey | None = None
    ) -> DriveImportCreated:
        """Start an import into the drive's media library, in no project (media minutes are
        spent). Undocumented by Descript."""
        target = Target(
            request.job_type,
            None,
            needs_upload_urls=_uploads(request.add_media),
            drive_wide=True,
        )
        return await self._submitter.submit(
            "jobs/import/drive_media", request.to_body(), DriveImportCreated, target, dedupe
        )

    async def agent_edit(
        self, request: AgentEditRequest, *, dedupe: DedupeKey | None = None
    ) -> AgentJobCreated:
        """Start an Underlord edit of a project, or a new project from a prompt (AI credits)."""
        target = Target(request.job_type, request.project_id, request.project_name)
        return await self._submitter.submit(
            "jobs/agent", request.to_body(), AgentJobCreated, target, dedupe
        )

    async def publish(
        self, request: PublishRequest, *, dedupe: DedupeKey | None = None
    ) -> JobCreated:
        """Start rendering and publishing a composition. One publish per project at a time."""
        target = Target(request.job_type, request.project_id)
        return await self._submitter.submit(
            "jobs/publish", request.to_body(), JobCreated, target, dedupe
        )

    async def export_timeline(
        self, request: ExportTimelineRequest, *, dedupe: DedupeKey | None = None
    ) -> TimelineExportCreated:
        """Start exporting a composition as a timeline file for another editor. Free; the file
        is at the stopped job's download_url. Undocumented by Descript."""
        target = Target(request.job_type, request.project_id, echo={"format": request.format})
        return await self._submitter.submit(
            "jobs/export/timeline", request.to_body(), TimelineExportCreated, target, dedupe
        )

    async def get_job(self, job_id: str) -> Job:
        response = await self._sender.send(
            "GET", f"jobs/{_segment(job_id, 'job id')}", idempotent=True
        )
        job: Job = parse(_JOB, response)
        return job

    async def cancel_job(self, job_id: str) -> None:
        """Cancel a queued or running job. Media already imported stays in the project."""
        await self._sender.send("DELETE", f"jobs/{_segment(job_id, 'job id')}", idempotent=True)
        await self._ledger.cancelled(job_id)

    async def list_jobs_page(
        self,
        *,
        project_id: str | None = None,
        type: ListJobsType | None = None,
        created_after: Moment | None = None,
        created_before: Moment | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Job]:
        """One page of jobs, newest first. Descript keeps 30 days; the default window is 7.
        Dates and times as `_since` and `_until` read them."""
        params = _query(
            project_id=project_id,
            type=type,
            created_after=_since(created_after),
            created_before=_until(created_before),
            limit=limit,
            cursor=cursor,
        )
        response = await self._sender.send("GET", "jobs", idempotent=True, params=params)
        return parse_page(_JOB, response)

    def list_jobs(self, **filters: Any) -> AsyncIterator[Job]:
        """Every job matching the filters of `list_jobs_page`, following cursors."""
        return _follow(self.list_jobs_page, filters)

    # -- projects, drive, search ------------------------------------------------------------

    async def list_projects_page(
        self,
        *,
        name: str | None = None,
        folder_path: str | None = None,
        created_by: str | None = None,
        created_after: Moment | None = None,
        created_before: Moment | None = None,
        updated_after: Moment | None = None,
        updated_before: Moment | None = None,
        sort: ProjectSort | None = None,
        direction: Literal["asc", "desc"] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[ProjectSummary]:
        """One page of projects. Dates and times as `_since` and `_until` read them."""
        params = _query(
            name=name,
            folder_path=folder_path,
            created_by=created_by,
            created_after=_since(created_after),
            created_before=_until(created_before),
            updated_after=_since(updated_after),
            updated_before=_until(updated_before),
            sort=sort,
            direction=direction,
            limit=limit,
            cursor=cursor,
        )
        response = await self._sender.send("GET", "projects", idempotent=True, params=params)
        return parse_page(_PROJECT, response)

    def list_projects(self, **filters: Any) -> AsyncIterator[ProjectSummary]:
        """Every project matching the filters of `list_projects_page`, following cursors."""
        return _follow(self.list_projects_page, filters)

    async def get_project(self, project_id: str) -> Project:
        response = await self._sender.send(
            "GET", f"projects/{_segment(project_id, 'project id')}", idempotent=True
        )
        return parse_model(Project, response)

    async def get_status(self) -> DriveStatus:
        """The token's drive: the cheapest way to check a token works."""
        return parse_model(DriveStatus, await self._sender.send("GET", "status", idempotent=True))

    async def list_agent_models(self) -> AgentModels:
        response = await self._sender.send("GET", "agent/models", idempotent=True)
        return parse_model(AgentModels, response)

    async def search(
        self,
        query: str,
        *,
        types: list[SearchType] | None = None,
        match: list[SearchMatch] | None = None,
        owners: list[str] | None = None,
        updated_after: Moment | None = None,
        updated_before: Moment | None = None,
        sort: Literal["relevance", "newest", "oldest"] | None = None,
        limit: int | None = None,
    ) -> list[SearchHit]:
        """Search the drive's projects, media, folders and transcripts (`visual` matches what
        videos and images show: Enterprise drives only, and alone). A date is sent as a date,
        which Descript reads as that whole UTC day; a time without an offset is UTC."""
        params = _query(
            query=query,
            type=types,
            match=visual_alone(match),
            owner=owners,
            updated_after=updated_after,
            updated_before=updated_before,
            sort=sort,
            limit=limit,
        )
        response = await self._sender.send("GET", "search", idempotent=True, params=params)
        return parse_model(SearchResults, response).results

    async def export_transcript(self, request: ExportTranscriptRequest) -> TranscriptFile:
        """A transcript file, made synchronously. Free: no credits are spent."""
        response = await self._sender.send(
            "POST", "export/transcript", idempotent=True, json=request.to_body()
        )
        return TranscriptFile(
            content=response.content,
            content_type=response.headers.get("content-type", "application/octet-stream"),
            filename=_attachment_filename(response.headers.get("content-disposition")),
            composition_id=response.headers.get("x-composition-id"),
        )

    async def get_published_project(self, slug_or_share_url: str) -> PublishedProject:
        """A share page's metadata, with a freshly signed download URL and WebVTT subtitles.
        Descript allows 1,000 of these requests an hour per user."""
        slug = urlsplit(slug_or_share_url.strip()).path.rstrip("/").rsplit("/", 1)[-1]
        response = await self._sender.send(
            "GET", f"published_projects/{_segment(slug, 'share page')}", idempotent=True
        )
        return parse_model(PublishedProject, response)


async def _follow(
    fetch: Callable[..., Awaitable[Page[Any]]], filters: dict[str, Any]
) -> AsyncIterator[Any]:
    cursor = filters.pop("cursor", None)
    while True:
        page = await fetch(**filters, cursor=cursor)
        for item in page.items:
            yield item
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def _uploads(add_media: Mapping[str, object] | None) -> bool:
    """Whether an import sends files by direct upload: its answer carries their upload URLs."""
    return any(getattr(item, "content_type", None) for item in (add_media or {}).values())


def _segment(value: str, what: str) -> str:
    """An id as one segment of a path: refused if it could be read as another route."""
    check_id(value, what)
    return quote(value, safe="")


# A filter's moment: a time (without an offset: UTC, as Descript reads it), or a whole UTC day.
Moment = datetime | date


def _since(moment: Moment | None) -> datetime | None:
    """A lower bound as a time: a date is the start of that UTC day."""
    if moment is None or isinstance(moment, datetime):
        return moment
    return datetime.combine(moment, time_of_day.min, UTC)


def _until(moment: Moment | None) -> datetime | None:
    """An upper bound as a time: a date is the end of that UTC day, so that a project updated
    today is found by `updated_before` today."""
    if moment is None or isinstance(moment, datetime):
        return moment
    end = datetime.combine(moment + timedelta(days=1), time_of_day.min, UTC)
    return end - timedelta(milliseconds=1)


def _query(**params: Any) -> list[tuple[str, str]]:
    """Query pairs with None left out, lists repeated (`type=a&type=b`), times ISO 8601 in UTC
    (one without an offset is taken as UTC, never as this machine's zone) and dates as dates."""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            if item is None:
                continue
            if isinstance(item, datetime):
                aware = item if item.tzinfo else item.replace(tzinfo=UTC)
                item = aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
            elif isinstance(item, date):
                item = item.isoformat()
            pairs.append((key, str(item)))
    return pairs


_FILENAME = re.compile(r"filename\*?=")


def _attachment_filename(header: str | None) -> str | None:
    if not header or not _FILENAME.search(header):
        return None
    message = Message()
    message["content-disposition"] = header
    return message.get_filename()
