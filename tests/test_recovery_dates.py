"""Recovery against a Descript whose Date header is coarse, cached and late, and whose clock
jitters against ours: every job Descript accepted is claimed, or named to the caller.

The sandbox is served by uvicorn over real HTTP. Its Date header can be cached and refreshed
once a second, off the second boundary, as uvicorn's own is (`date_refreshed_at`); a transport
between the client and the sandbox (`Edge`) moves the sandbox's clock a few milliseconds either
way before each request, makes a Date later still, and shows times to the whole second, as the
spec's examples of `created_at` have them."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import httpx
import pytest

from descript_mcp import DescriptClient, RetryPolicy
from descript_mcp.client.api import shared_tls_context
from descript_mcp.client.models import ImportMediaRequest
from descript_mcp.sandbox import DEFAULT_TOKEN, Fault, Sandbox, SandboxConfig, serve

pytestmark = pytest.mark.anyio

TEAMMATE = "teammate-token"
IMPORTS = "/jobs/import/project_media"
# One look, at once: the runs wait for nothing.
ONE_LOOK = RetryPolicy(backoff_initial=0.001, backoff_max=0.01, recovery_delays=(0.0,))


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    config = SandboxConfig.for_tests(rate_limit_requests=1_000_000)
    drive = config.drives[0]
    drive.tokens = (DEFAULT_TOKEN, TEAMMATE)
    drive.ai_credits = 1e9
    return config


@pytest.fixture
async def api(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    # Connections dropped on purpose: uvicorn's tracebacks for them are noise.
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "disabled", True)
    async with serve(sandbox) as url:
        yield url


class Edge(httpx.AsyncHTTPTransport):
    """What lies between the client and the sandbox: a sandbox clock that jitters around
    `offset`, a Date made `date_lag` seconds later (a cache in front of Descript's), and job
    and project times shown to the whole second."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        offset: float,
        jitter: float = 0.0,
        date_lag: float = 0.0,
        whole_seconds: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(verify=shared_tls_context())
        self.sandbox, self.offset, self.jitter, self.date_lag = sandbox, offset, jitter, date_lag
        self.whole_seconds = whole_seconds
        self.rng = rng or random.Random(0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sandbox.config.clock_offset = self.offset + self.rng.uniform(-1, 1) * self.jitter
        if self.whole_seconds:
            world = self.sandbox.world
            for record in [*world.jobs.values(), *world.projects.values()]:
                record.created_at = record.created_at.replace(microsecond=0)
        response = await super().handle_async_request(request)
        if self.date_lag and "date" in response.headers:
            date = parsedate_to_datetime(response.headers["date"])
            response.headers["date"] = format_datetime(
                date - timedelta(seconds=self.date_lag), usegmt=True
            )
        return response


def aimed(at: float) -> float:
    """The sandbox clock offset (under a second) that puts it `at` past a second now."""
    return at - math.modf(time.time())[0]


def jobs_of(sandbox: Sandbox, token: str) -> set[str]:
    return {job.id for job in sandbox.world.jobs.values() if job.token == token}


def new_project(sandbox: Sandbox, name: str) -> str:
    drive = sandbox.world.drive_by_token[DEFAULT_TOKEN]
    return sandbox.world.new_project(drive, name).id


@pytest.mark.parametrize("whole_seconds", [True, False], ids=["created_at to the second", "ms"])
async def test_a_date_cached_and_refreshed_off_the_second_does_not_lose_the_job(
    sandbox: Sandbox, api: str, whole_seconds: bool
) -> None:
    """The fault as found: uvicorn's Date, refreshed once a second just before the second
    turns, names the second before the answer's. A first answer at .8 past a second said the
    offset was 0.8 s lower than it is; the job, created early in the next second, then fell
    after the window, was taken for another client's ("another client started 1 job(s)"),
    and was named nowhere. The window now allows a Date a second late: the job is claimed."""
    sandbox.config.date_refreshed_at = 0.99
    project_id = new_project(sandbox, "Show")
    edge = Edge(sandbox, offset=aimed(0.8), whole_seconds=whole_seconds)
    # A slow answer: the job is created 0.3 s after the request arrives, past the second.
    sandbox.faults.add(Fault("POST", IMPORTS, kind="latency", latency=0.3))
    sandbox.faults.add(Fault("POST", IMPORTS, status=502, when="after"))
    async with DescriptClient(DEFAULT_TOKEN, base_url=api, transport=edge, retry=ONE_LOOK) as me:
        await me.get_status()
        created = await me.import_project_media(ImportMediaRequest(project_id=project_id))
    (ours,) = jobs_of(sandbox, DEFAULT_TOKEN)
    assert created.job_id == ours
    assert len(sandbox.api_requests("POST", IMPORTS)) == 1
