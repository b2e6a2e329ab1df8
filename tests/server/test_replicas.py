"""Two replicas on one PostgreSQL history, each served over HTTP in this event loop, each
talking to the sandbox through a listener of its own (so the sandbox's log says which replica
asked): a job is polled by one replica only, a wait or a subscription on the other hears of
it, and when the polling replica stops, the other takes the job over."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from descript_mcp.sandbox import Sandbox, SandboxConfig, serve, serve_app
from descript_mcp.sandbox.config import JobTimings
from descript_mcp.server import build_server, cluster
from descript_mcp.server.http.run import http_app
from descript_mcp.settings import Settings
from tests.conftest import FAST_POLL
from tests.oauth.conftest import App, Hosted, Person, free_port
from tests.postgres import ThrowawayPostgres
from tests.server.conftest import structured
from tests.server.test_transports import _as

pytestmark = pytest.mark.anyio


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    # Jobs of several seconds: long enough to outlive a replica, short enough for a test.
    return SandboxConfig(timings=JobTimings(queued=0.2, agent_step=3.0, progress_steps=4))


@pytest.fixture
def shared_database(postgres: ThrowawayPostgres | None) -> str:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    return postgres.new_database()


@pytest.fixture(autouse=True)
def short_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cluster, "LEASE_TTL", 1.5)


@dataclass
class Replica:
    mcp_url: str
    api_host: str  # where this replica's requests reach the sandbox


@asynccontextmanager
async def replica(
    sandbox: Sandbox, database: str, home: Path, port: int | None = None, **changes: Any
) -> AsyncIterator[Replica]:
    port = port or free_port()
    async with serve(sandbox) as api:
        settings = Settings(
            **{
                "api_url": api,
                "history_path": home / "unused.sqlite3",
                "database_url": database,
                "transport": "http",
                "port": port,
                "wait_seconds": 5,
            }
            | changes
        )
        server = build_server(settings, poll_schedule=FAST_POLL)
        async with serve_app(http_app(server, settings), port=port) as origin:
            yield Replica(f"{origin}/mcp", api.split("//")[1].split("/")[0])


def polls(sandbox: Sandbox, job_id: str) -> dict[str | None, int]:
    counted: dict[str | None, int] = {}
    for request in sandbox.api_requests("GET", f"/jobs/{job_id}"):
        counted[request.host] = counted.get(request.host, 0) + 1
    return counted


async def test_one_replica_polls_and_the_other_hears(
    sandbox: Sandbox, shared_database: str, tmp_path: Path
) -> None:
    heard = anyio.Event()

    async def listen(mcp: Client, ready: anyio.Event) -> None:
        async with mcp.listen(resource_subscriptions=["descript://jobs"]) as subscription:
            ready.set()
            async for _event in subscription:
                heard.set()

    async with (
        replica(sandbox, shared_database, tmp_path) as one,
        replica(sandbox, shared_database, tmp_path) as two,
        _as(sandbox.token, one.mcp_url, "auto") as on_one,
        _as(sandbox.token, two.mcp_url, "auto") as on_two,
        _as(sandbox.token, two.mcp_url, "auto") as listener,
        anyio.create_task_group() as listening,
    ):
        ready = anyio.Event()
        listening.start_soon(listen, listener, ready)
        await ready.wait()
        started = structured(
            await on_one.call_tool(
                "agent_edit", {"prompt": "An intro", "project_name": "Shared", "wait_seconds": 0}
            )
        )
        job_id = started["job_id"]
        # A wait on the other replica: it reads the history, woken by the first one's changes.
        waited = structured(
            await on_two.call_tool("get_job", {"job_id": job_id, "wait_seconds": 30})
        )
        assert waited["state"] == "stopped"
        assert waited["outcome"] == "success"
        # A listener on replica two heard of the job, which only replica one polled.
        with anyio.fail_after(10):
            await heard.wait()
        listening.cancel_scope.cancel()
    assert set(polls(sandbox, job_id)) == {one.api_host}


async def test_a_stopped_replicas_job_is_taken_over(
    sandbox: Sandbox, shared_database: str, tmp_path: Path
) -> None:
    async with (
        replica(sandbox, shared_database, tmp_path) as two,
        _as(sandbox.token, two.mcp_url, "auto") as on_two,
    ):
        await on_two.call_tool("list_jobs", {"limit": 1})  # replica two holds this token
        async with (
            replica(sandbox, shared_database, tmp_path) as one,
            _as(sandbox.token, one.mcp_url, "auto") as on_one,
        ):
            started = structured(
                await on_one.call_tool(
                    "agent_edit", {"prompt": "Intro", "project_name": "Orphan", "wait_seconds": 0}
                )
            )
        # Replica one is gone, its lease not released: it lapses, and replica two takes over.
        job_id = started["job_id"]
        job = sandbox.world.jobs[job_id]
        for _ in range(100):  # its lease lapses (1.5 s) and the next round (0.5 s) takes it
            if two.api_host in polls(sandbox, job_id):
                break
            await anyio.sleep(0.1)
        # Taken over by replica two's own rounds, while the job ran, before anyone asked.
        assert two.api_host in polls(sandbox, job_id)
        assert not job.ended.is_set()
        waited = structured(
            await on_two.call_tool("get_job", {"job_id": job_id, "wait_seconds": 30})
        )
        assert waited["state"] == "stopped"
    polled = polls(sandbox, job_id)
    assert two.api_host in polled
    assert len(polled) == 2  # one polled it first, two after


async def test_in_the_oauth_mode_any_replica_takes_over_from_the_vault(
    sandbox: Sandbox, shared_database: str, tmp_path: Path
) -> None:
    """Replica two never served this person: it finds their token in the shared vault."""
    port = free_port()
    # One public URL and one key for both, as behind a balancer.
    oauth = {
        "auth": "oauth",
        "secret_key": secrets.token_urlsafe(32),
        "public_url": f"http://127.0.0.1:{port}",
    }
    async with replica(sandbox, shared_database, tmp_path, **oauth) as two:
        async with replica(sandbox, shared_database, tmp_path, port=port, **oauth) as one:
            origin = one.mcp_url.removesuffix("/mcp")
            async with httpx.AsyncClient(timeout=30) as http:
                app = App(Hosted(origin, None, None), http)  # type: ignore[arg-type]
                await app.register()
                person = Person(sandbox.token)
                tokens = await app.tokens_for(person)
                await person.aclose()
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=30) as mcp_http,
                Client(streamable_http_client(one.mcp_url, http_client=mcp_http)) as mcp,
            ):
                started = structured(
                    await mcp.call_tool(
                        "agent_edit",
                        {"prompt": "Intro", "project_name": "Vault", "wait_seconds": 0},
                    )
                )
        job = sandbox.world.jobs[started["job_id"]]
        for _ in range(100):
            if two.api_host in polls(sandbox, job.id):
                break
            await anyio.sleep(0.1)
        assert two.api_host in polls(sandbox, job.id)
        assert not job.ended.is_set()
