"""Fixtures: a fast sandbox per test, and a client talking to it over real HTTP or ASGI.

Async tests run under anyio's pytest plugin (`pytestmark = pytest.mark.anyio` in each module):
it keeps an async fixture's setup and teardown in one task, as the sandbox's task group needs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from descript_mcp import DescriptClient, RetryPolicy
from descript_mcp.client.models import (
    ImportJobCreated,
    ImportMediaRequest,
    Job,
    NewComposition,
    UrlMedia,
)
from descript_mcp.client.waiter import PollSchedule, wait_for_job
from descript_mcp.history import History
from descript_mcp.sandbox import DEFAULT_TOKEN, Sandbox, SandboxConfig, serve
from descript_mcp.sandbox.faults import Fault, FaultPlan
from tests.postgres import ThrowawayPostgres, binaries

ASGI_BASE = "http://sandbox.test"
FAST_POLL = PollSchedule(initial=0.01, factor=1.5, maximum=0.05)
# Real backoff would slow the suite; the retry tests inject their own sleep to see the delays.
QUICK_RETRIES = RetryPolicy(backoff_initial=0.001, backoff_max=0.01, recovery_delays=(0.0, 0.02))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def every_fault_fires(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test that injects a fault must see it fire: one that never fires tests nothing. Faults
    left to chance (probability below 1, as the soak's) are exempt."""
    added: list[Fault] = []
    add = FaultPlan.add

    def recording(plan: FaultPlan, fault: Fault) -> Fault:
        added.append(fault)
        return add(plan, fault)

    monkeypatch.setattr(FaultPlan, "add", recording)
    yield
    idle = [fault for fault in added if fault.probability >= 1 and not fault.hits]
    assert not idle, f"faults injected that never fired: {idle}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres | None]:
    """A PostgreSQL server for the whole run; None where the package is not installed (CI sets
    DESCRIPT_MCP_REQUIRE_POSTGRES, so there it must be)."""
    found = binaries()
    if found is None:
        if os.environ.get("DESCRIPT_MCP_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required and not installed (apt-get install postgresql)")
        yield None
        return
    server = ThrowawayPostgres(found)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, postgres: ThrowawayPostgres | None) -> str | None:
    """Each backend in turn: None for the SQLite file, else a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return None
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql): SQLite only")
    return postgres.new_database()


@pytest.fixture
async def history(tmp_path: Path, database_url: str | None) -> AsyncIterator[History]:
    opened = await History.open(tmp_path / "state" / "history.sqlite3", database_url)
    yield opened
    await opened.aclose()


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig.for_tests()


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[Sandbox]:
    async with Sandbox(sandbox_config) as running:
        yield running


@pytest.fixture(params=["asgi", "http"])
async def api_url(request: pytest.FixtureRequest, sandbox: Sandbox) -> AsyncIterator[str]:
    """The sandbox's API URL: in-process (ASGI) or served by uvicorn on a loopback port."""
    if request.param == "asgi":
        yield f"{ASGI_BASE}/v1"
        return
    async with serve(sandbox) as url:
        yield url


@pytest.fixture
async def plain(sandbox: Sandbox, api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP to the sandbox with no token: how signed URLs are fetched, and how a body the
    client's own checks would never send is sent."""
    transport = httpx.ASGITransport(app=sandbox.app) if api_url.startswith(ASGI_BASE) else None
    async with httpx.AsyncClient(transport=transport, base_url=api_url + "/") as http:
        yield http


async def post(
    plain: httpx.AsyncClient, path: str, body: object, token: str = DEFAULT_TOKEN
) -> httpx.Response:
    return await plain.post(path, json=body, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def make_client(sandbox: Sandbox, api_url: str) -> Callable[..., DescriptClient]:
    transport = httpx.ASGITransport(app=sandbox.app) if api_url.startswith(ASGI_BASE) else None

    def make(token: str | None = sandbox.token, **options: object) -> DescriptClient:
        options.setdefault("retry", QUICK_RETRIES)
        return DescriptClient(token, base_url=api_url, transport=transport, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
async def client(make_client: Callable[..., DescriptClient]) -> AsyncIterator[DescriptClient]:
    async with make_client() as ready:
        yield ready


@pytest.fixture
def media_url(api_url: str) -> str:
    return api_url.removesuffix("/v1") + "/_sandbox/media/sample.wav"


async def wait(client: DescriptClient, job_id: str) -> Job:
    job = await wait_for_job(client, job_id, max_wait=10, schedule=FAST_POLL)
    assert job.is_terminal, f"{job_id} still {job.job_state}"
    return job


@pytest.fixture
def imported_project(
    client: DescriptClient, media_url: str
) -> Callable[..., Awaitable[ImportJobCreated]]:
    """Import the sample into a new project with one composition, and wait for it."""

    async def make(name: str = "Episode 1", **fields: object) -> ImportJobCreated:
        created = await client.import_project_media(
            ImportMediaRequest(
                project_name=name,
                add_media={"sample.wav": UrlMedia(url=media_url)},
                add_compositions=[NewComposition(name="Main", clips=[{"media": "sample.wav"}])],  # type: ignore[list-item]
                **fields,  # type: ignore[arg-type]
            )
        )
        job = await wait(client, created.job_id)
        assert job.result is not None
        assert job.result.status == "success"
        return created

    return make
