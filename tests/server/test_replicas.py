"""Two replicas on one PostgreSQL history, each served over HTTP in this event loop, each
talking to the sandbox through a listener of its own (so the sandbox's log says which replica
asked): a job is polled by one replica only, a wait or a subscription on the other hears of
it, and when the polling replica stops, the other takes the job over."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import psycopg
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._sandbox import free_port
from descript_mcp.sandbox import Sandbox, SandboxConfig, serve, serve_app
from descript_mcp.sandbox.config import JobTimings
from descript_mcp.server import build_server, cluster
from descript_mcp.server.app import DescriptServer
from descript_mcp.server.cluster import Cluster
from descript_mcp.server.http.lifecycle import Lifecycle
from descript_mcp.server.http.run import http_app
from descript_mcp.settings import Settings
from tests.conftest import FAST_POLL
from tests.postgres import ThrowawayPostgres, connected_again, terminate_backends
from tests.server.conftest import structured
from tests.server.oauth.conftest import App, Hosted, Person
from tests.server.test_transports import _as
from tests.waiting import eventually

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
    server: DescriptServer
    app: Lifecycle

    @property
    def origin(self) -> str:
        return self.mcp_url.removesuffix("/mcp")

    @property
    def cluster(self) -> Cluster:
        state = self.server.running_state()
        assert state.tracker.cluster is not None
        return state.tracker.cluster


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
        app = http_app(server, settings)
        async with serve_app(app, port=port) as origin:
            yield Replica(f"{origin}/mcp", api.split("//")[1].split("/")[0], server, app)


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


async def until_ready(origin: str, *, ready: bool = True) -> dict[str, Any]:
    """Until the replica's /ready says `ready`; its answer."""

    async def answer() -> dict[str, Any] | None:
        async with httpx.AsyncClient() as http:
            asked = await http.get(f"{origin}/ready")
        checks: dict[str, Any] = asked.json()
        return checks if asked.is_success == ready else None

    return await eventually(answer, f"{origin}/ready says ready: {ready}", within=20)


def ends_recorded(database: str, job_id: str) -> int:
    with psycopg.connect(database) as db:
        row = db.execute(
            "SELECT count(*) FROM job_events WHERE job_id = %s AND state = 'stopped'", (job_id,)
        ).fetchone()
    return int(row[0]) if row else 0


def lease_holder(database: str, job_id: str) -> str | None:
    held = lease(database, job_id)
    return held[0] if held else None


def lease(database: str, job_id: str) -> tuple[str, float] | None:
    with psycopg.connect(database) as db:
        row = db.execute(
            "SELECT holder, expires_at FROM job_leases WHERE job_id = %s", (job_id,)
        ).fetchone()
    return (row[0], row[1]) if row else None


async def test_bad_notifications_and_cut_connections_end_no_replica(
    sandbox: Sandbox, shared_database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Anyone allowed to connect may NOTIFY anything; PostgreSQL may drop every connection.
    Neither ends a replica: the notifications are logged and skipped, the connections made
    again, and the job in flight ends, recorded once, from one POST."""
    async with (
        replica(sandbox, shared_database, tmp_path) as one,
        replica(sandbox, shared_database, tmp_path) as two,
        _as(sandbox.token, one.mcp_url, "auto") as on_one,
        _as(sandbox.token, two.mcp_url, "auto") as on_two,
    ):
        await on_two.call_tool("list_jobs", {"limit": 1})  # replica two holds this token
        for each in (one, two):
            await until_ready(each.origin)
        started = structured(
            await on_one.call_tool(
                "agent_edit", {"prompt": "Intro", "project_name": "Blips", "wait_seconds": 0}
            )
        )
        job_id = started["job_id"]
        with psycopg.connect(shared_database, autocommit=True) as db:
            for payload in ("not json", "[1, 2, 3]", '["a", "b"]', "{}"):
                db.execute("SELECT pg_notify('descript_mcp_jobs', %s)", (payload,))
        for _ in range(3):
            ended = terminate_backends(shared_database)
            assert len(ended) >= 4  # a listener and a heartbeat each, and the pools
            await eventually(
                lambda ended=ended: connected_again(shared_database, ended),  # type: ignore[misc]
                "each replica listening and asking again",
            )
            for each in (one, two):
                await until_ready(each.origin)
        # Heard across replicas still: a wait on replica two sees the end replica one polled.
        waited = structured(
            await on_two.call_tool("get_job", {"job_id": job_id, "wait_seconds": 30})
        )
        assert waited["state"] == "stopped"
        for mcp in (on_one, on_two):
            listed = structured(await mcp.call_tool("list_jobs", {"limit": 5}))
            assert job_id in json.dumps(listed)
    skipped = [r for r in caplog.records if "malformed notification" in r.getMessage()]
    assert len(skipped) == 4 * 2  # each bad payload, on each replica
    assert ends_recorded(shared_database, job_id) == 1
    assert len(sandbox.api_requests("POST", "/jobs/agent")) == 1


async def test_a_stopping_replica_hands_its_jobs_over_at_once(
    sandbox: Sandbox, shared_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drained (as on SIGTERM), a replica says it is not ready, refuses new sessions, answers
    a waiting call with the job as it is, and frees its leases: the other replica takes the
    job long before the lease could have lapsed."""
    monkeypatch.setattr(cluster, "LEASE_TTL", 6.0)
    sandbox.config.timings = JobTimings(queued=0.2, agent_step=3.0, progress_steps=4)
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
                    "agent_edit", {"prompt": "Intro", "project_name": "Handed", "wait_seconds": 0}
                )
            )
            job_id = started["job_id"]
            held = lease(shared_database, job_id)
            assert held is not None
            assert held[0] == one.cluster.replica
            answers: list[dict[str, Any]] = []

            async def wait_on_one() -> None:
                waited = await on_one.call_tool("get_job", {"job_id": job_id, "wait_seconds": 60})
                answers.append(structured(waited))

            async with anyio.create_task_group() as group:
                group.start_soon(wait_on_one)
                await eventually(lambda: one.app.in_flight > 0, "the wait in flight")
                held = lease(shared_database, job_id)
                assert held is not None
                await one.app.drain(10)
            # The waiting call was answered at once, with the job still running.
            (answer,) = answers
            assert answer["state"] in ("queued", "running")
            assert "restarting" in answer["wait_capped"]
            await eventually(
                lambda: lease_holder(shared_database, job_id) == two.cluster.replica,
                "the lease taken by replica two",
            )
            assert time.time() < held[1], "taken over before the lease lapsed: handed over"
            checks = await until_ready(one.origin, ready=False)
            assert checks["checks"]["accepting"] is False
            async with httpx.AsyncClient() as http:
                alive = await http.get(f"{one.origin}/health")
                assert alive.status_code == 200
                # No connection kept for a next request the stopped replica would cut.
                assert alive.headers["connection"] == "close"
                refused = await http.post(
                    one.mcp_url,
                    json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
                    headers={"Authorization": f"Bearer {sandbox.token}"},
                )
                assert refused.status_code == 503
        assert not sandbox.world.jobs[job_id].ended.is_set()
        waited = structured(
            await on_two.call_tool("get_job", {"job_id": job_id, "wait_seconds": 30})
        )
        assert waited["state"] == "stopped"
    assert ends_recorded(shared_database, job_id) == 1
    polled = polls(sandbox, job_id)
    assert set(polled) == {one.api_host, two.api_host}
