"""A revoked grant's Descript token stops being used within seconds, on every replica: after
`descript-mcp auth revoke` (another process) or the app's own revocation (RFC 7009), nothing
more reaches Descript with it, though its jobs run on there; and those jobs are noted in the
history as no longer followed, saying why.

The sandbox's request log is the witness: every job here runs forever at Descript (a stuck
job), and someone else's job, followed just as often, shows how many reads a follower that
had not stopped would have made meanwhile."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from descript_mcp.history import History
from descript_mcp.history.records import owner_of
from descript_mcp.sandbox import OTHER_DRIVE_TOKEN, Sandbox
from descript_mcp.sandbox.faults import Fault
from tests.postgres import ThrowawayPostgres
from tests.server.conftest import structured
from tests.server.oauth.conftest import App, Hosted, Person

pytestmark = pytest.mark.anyio


@pytest.fixture
async def stuck(sandbox: Sandbox) -> None:
    """Every agent job started from now on never ends at Descript."""
    sandbox.faults.add(Fault("POST", "/jobs/agent", when="after", kind="stuck", times=None))


@asynccontextmanager
async def mcp_with(hosted: Hosted, access_token: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {access_token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(hosted.mcp_url, http_client=http)) as mcp,
    ):
        yield mcp


async def start_job(hosted: Hosted, access_token: str, name: str) -> str:
    async with mcp_with(hosted, access_token) as mcp:
        started = structured(
            await mcp.call_tool(
                "agent_edit", {"prompt": "An intro", "project_name": name, "wait_seconds": 0}
            )
        )
    job_id: str = started["job_id"]
    return job_id


def sent_with(sandbox: Sandbox, token: str) -> int:
    return sum(1 for request in sandbox.requests if request.token == token)


async def polled(sandbox: Sandbox, job_id: str) -> None:
    """Until a follower has read the job from Descript."""
    for _ in range(500):
        if sandbox.api_requests("GET", f"/jobs/{job_id}"):
            return
        await anyio.sleep(0.02)
    raise AssertionError(f"{job_id} was never read")


async def noted(history: History, owner: str, job_ids: list[str]) -> list[str]:
    """The jobs' notes, once every one has one."""
    for _ in range(200):
        records = [await history.jobs.get(owner, job_id) for job_id in job_ids]
        notes = [record.note for record in records if record is not None and record.note]
        if len(notes) == len(job_ids):
            return notes
        await anyio.sleep(0.05)
    raise AssertionError("the jobs were not noted within 10 s")


async def revoke_from_the_command_line(grant_id: str, environment: dict[str, str]) -> None:
    done = await anyio.run_process(
        [sys.executable, "-m", "descript_mcp", "auth", "revoke", grant_id],
        env=os.environ | environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()


async def then_nothing_more(sandbox: Sandbox, token: str) -> None:
    """What was sent with the token so far is all there is, while the witness's follower reads
    its job 20 more times (as often as one still following the revoked job would)."""
    sent, witnessed = sent_with(sandbox, token), sent_with(sandbox, OTHER_DRIVE_TOKEN)
    for _ in range(500):
        if sent_with(sandbox, OTHER_DRIVE_TOKEN) >= witnessed + 20:
            break
        await anyio.sleep(0.02)
    assert sent_with(sandbox, OTHER_DRIVE_TOKEN) >= witnessed + 20, "the witness stopped too"
    assert sent_with(sandbox, token) == sent


async def connected(app: App, token: str) -> str:
    """An access token of a person with this Descript token, after they connected."""
    person = Person(token)
    tokens = await app.tokens_for(person)
    await person.aclose()
    access: str = tokens["access_token"]
    return access


@pytest.mark.usefixtures("stuck")
@pytest.mark.parametrize("how", ["command line", "the app (RFC 7009)"])
async def test_a_revoked_grants_token_reaches_descript_no_more(
    app: App, sandbox: Sandbox, how: str
) -> None:
    await app.register()
    access, witness = await connected(app, sandbox.token), await connected(app, OTHER_DRIVE_TOKEN)
    job_id = await start_job(app.hosted, access, "Revoked")
    await polled(sandbox, await start_job(app.hosted, witness, "Witness"))
    await polled(sandbox, job_id)
    history = app.hosted.server.running_state().history
    summary = next(
        s for s in await history.grants.grants() if s.grant.owner == owner_of(sandbox.token)
    )
    if how == "command line":
        environment = {"DESCRIPT_MCP_HISTORY": str(app.hosted.settings.history_path)}
        await revoke_from_the_command_line(summary.grant.grant_id, environment)
    else:
        revoked = await app.http.post(
            f"{app.hosted.origin}/revoke", data={"token": access, "client_id": app.client_id}
        )
        assert revoked.status_code == 200
    (note,) = await noted(history, summary.grant.owner, [job_id])
    assert note.startswith("No longer followed: the connection to Descript that started it was")
    assert "revoked" in note
    await then_nothing_more(sandbox, sandbox.token)
    assert await app.mcp_status(access) == 401


@pytest.mark.usefixtures("stuck")
async def test_every_replica_lets_go_of_a_revoked_token(
    host_oauth: Callable[..., Any], sandbox: Sandbox, postgres: ThrowawayPostgres | None
) -> None:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    database = postgres.new_database()
    async with host_oauth(database_url=database) as first:
        shared: dict[str, Any] = {"database_url": database, "public_url": first.origin}
        async with host_oauth(**shared) as second, httpx.AsyncClient(timeout=30) as http:
            app = App(first, http)
            await app.register()
            access = await connected(app, sandbox.token)
            witness = await connected(app, OTHER_DRIVE_TOKEN)
            # A job started at each replica: each follows its own, with the token.
            job_ids = []
            for n, replica in enumerate((first, second)):
                job_ids.append(await start_job(replica, access, f"Replica {n}"))
                await polled(sandbox, await start_job(replica, witness, f"Witness {n}"))
            for job_id in job_ids:
                await polled(sandbox, job_id)
            history = first.server.running_state().history
            summary = next(
                s for s in await history.grants.grants() if s.grant.owner == owner_of(sandbox.token)
            )
            await revoke_from_the_command_line(
                summary.grant.grant_id, {"DESCRIPT_MCP_DATABASE_URL": database}
            )
            notes = await noted(history, summary.grant.owner, job_ids)
            assert all("revoked" in note for note in notes)
            for replica in (first, second):  # each replica sees it on its own
                pool = replica.server.running_state().pool
                for _ in range(200):
                    if summary.grant.owner not in pool.by_owner():
                        break
                    await anyio.sleep(0.05)
                assert summary.grant.owner not in pool.by_owner()
            await then_nothing_more(sandbox, sandbox.token)
