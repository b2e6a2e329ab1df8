"""Contract: every request the client sends and every answer the sandbox gives, checked against
Descript's OpenAPI spec as the repository carries it (tests/contract), over real HTTP and ASGI."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from descript_mcp import (
    NO_RETRIES,
    BadRequestError,
    ConflictError,
    DescriptClient,
    NotFoundError,
    PermissionDeniedError,
    PublishInProgressError,
    RateLimitError,
    UnprocessableEntityError,
)
from descript_mcp.client.models import (
    AgentEditRequest,
    Clip,
    ExportTranscriptRequest,
    ImportMediaRequest,
    NewComposition,
    PublishRequest,
    SequenceMedia,
    SequenceTrack,
    Timecodes,
    UploadMedia,
    UrlMedia,
)
from descript_mcp.sandbox import OTHER_DRIVE_TOKEN, Sandbox
from descript_mcp.sandbox.media import synthesize_wav
from tests.conftest import ASGI_BASE, wait
from tests.contract.build import NEWER_SPEC, REFERENCE, build
from tests.contract.check import Contract, ContractViolationError, Exchange, load_contract

pytestmark = [pytest.mark.anyio, pytest.mark.contract]


class RecordingTransport(httpx.AsyncBaseTransport):
    """Keeps every API exchange (the /v1 paths; signed file URLs are not part of the spec)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        if request.url.path.startswith("/v1/"):
            self.exchanges.append(
                Exchange(
                    method=request.method,
                    path=request.url.path.removeprefix("/v1"),
                    query=list(request.url.params.multi_items()),
                    request_body=body,
                    status=response.status_code,
                    content_type=response.headers.get("content-type", ""),
                    response_body=content,
                )
            )
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def recorder(sandbox: Sandbox, api_url: str) -> RecordingTransport:
    inner = (
        httpx.ASGITransport(app=sandbox.app)
        if api_url.startswith(ASGI_BASE)
        else httpx.AsyncHTTPTransport()
    )
    return RecordingTransport(inner)


async def _exercise_every_operation(
    client: DescriptClient, other: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    await client.get_status()
    await client.list_agent_models()
    audio = synthesize_wav(2.0)
    created = await client.import_project_media(
        ImportMediaRequest(
            project_name="Contract",
            folder_name="Specs",
            team_access="edit",
            add_media={
                "talk.wav": UrlMedia(url=media_url, language="en"),
                "intro.wav": UploadMedia(content_type="audio/wav", file_size=len(audio)),
                "Sequences/Both": SequenceMedia(
                    tracks=[
                        SequenceTrack(media="talk.wav"),
                        SequenceTrack(media="intro.wav", offset=1),
                    ]
                ),
            },
            add_compositions=[
                NewComposition(
                    name="Main", clips=[Clip(media="intro.wav"), Clip(media="talk.wav", mute=False)]
                )
            ],
            callback_url="http://127.0.0.1:9/unused",
        )
    )
    await client.signed.upload(created.upload_urls["intro.wav"].upload_url, audio, size=len(audio))
    await wait(client, created.job_id)
    pid = created.project_id

    agent = await client.agent_edit(
        AgentEditRequest(project_id=pid, model="claude-sonnet", prompt="Apply studio sound")
    )
    await wait(client, agent.job_id)
    draft = await client.agent_edit(
        AgentEditRequest(project_name="Drafted", prompt="A teaser", team_access="view")
    )
    await wait(client, draft.job_id)
    empty = await client.import_project_media(ImportMediaRequest(project_name="Empty"))
    await wait(client, empty.job_id)
    failing = await client.agent_edit(
        AgentEditRequest(project_id=empty.project_id, prompt="Add captions")
    )
    await wait(client, failing.job_id)

    with pytest.raises(UnprocessableEntityError):
        await client.publish(PublishRequest(project_id=pid, media_type="Video"))
    sandbox.config.timings.publish = 0.5
    publish = await client.publish(
        PublishRequest(project_id=pid, resolution="720p", access_level="drive")
    )
    slug = next(iter(sandbox.world.publishes))
    with pytest.raises(PublishInProgressError):
        await client.publish(PublishRequest(project_id=pid))
    with pytest.raises(ConflictError):
        await client.get_published_project(slug)
    await wait(client, publish.job_id)
    await client.get_published_project(slug)
    with pytest.raises(PermissionDeniedError):
        await other.get_project(pid)
    with pytest.raises(PermissionDeniedError):
        await other.cancel_job(publish.job_id)

    await client.get_project(pid)
    [p async for p in client.list_projects(sort="name", direction="asc", limit=1, name="a")]
    await client.list_projects_page(folder_path="Specs", created_by="me")
    [j async for j in client.list_jobs(limit=2)]
    await client.list_jobs_page(project_id=pid, type="agent")
    await client.search(
        "contract", types=["project", "audio"], match=["name"], sort="newest", limit=5
    )
    await client.search("professional", match=["content"], updated_before=date.today())
    with pytest.raises(PermissionDeniedError):  # an Enterprise drive's
        await client.search("contract", match=["visual"])
    for fmt in ("txt", "docx", "srt"):
        await client.export_transcript(
            ExportTranscriptRequest(
                project_id=pid,
                format=fmt,
                include_speaker_labels="off",
                include_markers=True,  # type: ignore[arg-type]
                timecodes=Timecodes(frequency_seconds=5, on_speakers=True),
            )
        )
    # Without a composition, the project's first: an empty project's placeholder, empty.
    blank = await client.export_transcript(
        ExportTranscriptRequest(project_id=empty.project_id, format="txt")
    )
    assert not blank.text().strip()
    with pytest.raises(BadRequestError, match="belongs to a different project"):
        await client.agent_edit(
            AgentEditRequest(
                project_id=empty.project_id, prompt="Go on", conversation_id=agent.conversation_id
            )
        )
    with pytest.raises(NotFoundError, match="Conversation"):
        await client.agent_edit(
            AgentEditRequest(
                project_id=pid,
                prompt="Go on",
                conversation_id="9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb",
            )
        )
    resumed = await client.agent_edit(
        AgentEditRequest(project_id=pid, prompt="Go on", conversation_id=agent.conversation_id)
    )
    await wait(client, resumed.job_id)
    with pytest.raises(NotFoundError):
        await client.get_job("project-media-import-missing")

    sandbox.config.timings.import_item = 30.0
    running = await client.import_project_media(
        ImportMediaRequest(project_id=pid, add_media={"late.wav": UrlMedia(url=media_url)})
    )
    await client.cancel_job(running.job_id)
    await client.get_job(running.job_id)
    sandbox.config.rate_limit_requests = 0
    with pytest.raises(RateLimitError):
        await client.list_jobs_page()


async def test_every_exchange_matches_the_spec(
    sandbox: Sandbox, api_url: str, media_url: str, recorder: RecordingTransport
) -> None:
    options = {"base_url": api_url, "transport": recorder, "retry": NO_RETRIES}
    async with (
        DescriptClient(sandbox.token, **options) as client,
        DescriptClient(OTHER_DRIVE_TOKEN, **options) as other,
    ):
        await _exercise_every_operation(client, other, sandbox, media_url)

    contract = Contract(load_contract())
    violations = []
    for exchange in recorder.exchanges:
        try:
            contract.check(exchange)
        except ContractViolationError as violation:
            violations.append(str(violation))
    assert violations == []
    covered = {(e.method, contract_path(contract, e)) for e in recorder.exchanges}
    documented = {
        ("GET", "/jobs"),
        ("GET", "/jobs/{job_id}"),
        ("DELETE", "/jobs/{job_id}"),
        ("POST", "/jobs/import/project_media"),
        ("POST", "/jobs/agent"),
        ("POST", "/jobs/publish"),
        ("GET", "/projects"),
        ("GET", "/projects/{project_id}"),
        ("GET", "/status"),
        ("GET", "/agent/models"),
        ("GET", "/search"),
        ("POST", "/export/transcript"),
        ("GET", "/published_projects/{publishedProjectSlug}"),
    }
    assert documented <= covered
    statuses = {e.status for e in recorder.exchanges}
    assert {200, 201, 204, 400, 403, 404, 409, 422, 429} <= statuses


def contract_path(contract: Contract, exchange: Exchange) -> str:
    operation = contract.operation(exchange.method, exchange.path)
    return next(
        path
        for path, ops in contract.spec["paths"].items()
        if ops.get(exchange.method.lower()) is operation
    )


def test_the_contract_catches_a_field_the_spec_does_not_allow() -> None:
    contract = Contract(load_contract())
    bad = Exchange(
        "POST",
        "/jobs/publish",
        [],
        b'{"project_id": "9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb", "format": "mp4"}',
        201,
        "application/json",
        b'{"job_id": "j", "drive_id": "c9c5c47e-158a-49f7-846b-4f6ee2a229a2", '
        b'"project_id": "9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb", "project_url": "x"}',
    )
    with pytest.raises(ContractViolationError, match="format"):
        contract.check(bad)
    undeclared = Exchange("GET", "/status", [], b"", 500, "application/json", b"{}")
    with pytest.raises(ContractViolationError, match="not in the spec"):
        contract.check(undeclared)


def test_the_contract_catches_a_job_of_the_wrong_shape() -> None:
    contract = Contract(load_contract())
    job = (
        b'{"job_id": "j", "job_type": "agent", "job_state": "finished", '
        b'"created_at": "2026-01-01T00:00:00Z", "drive_id": "c9c5c47e-158a-49f7-846b-'
        b'4f6ee2a229a2", "project_id": "9f36ee32-5a2c-47e7-b1a3-94991d3e3ddb", '
        b'"project_url": "https://web.descript.com/x"}'
    )
    with pytest.raises(ContractViolationError):
        contract.check(Exchange("GET", "/jobs/j", [], b"", 200, "application/json", job))
    valid = job.replace(b"finished", b"running")
    contract.check(Exchange("GET", "/jobs/j", [], b"", 200, "application/json", valid))


def test_the_contract_carried_is_the_one_the_reference_makes() -> None:
    """When Descript's reference is at hand (../shared/reference), the JSON in the repository
    is what build.py makes of it: regenerate with `python -m tests.contract.build`."""
    if not (REFERENCE / NEWER_SPEC).exists():
        pytest.skip(f"the reference is not at {REFERENCE}: the carried contract is used as is")
    made, carried = build(REFERENCE), load_contract()
    assert {k: v for k, v in made.items() if k != "x-source"} == {
        k: v for k, v in carried.items() if k != "x-source"
    }
