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
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime

import anyio
import httpx
import pytest

from descript_mcp import DescriptClient, RetryPolicy, UnconfirmedSubmissionError
from descript_mcp.client.api import shared_tls_context
from descript_mcp.client.clock import DATE_LAG, SERVER_MARGIN
from descript_mcp.client.models import AgentEditRequest, ImportMediaRequest, JobCreatedBase
from descript_mcp.sandbox import DEFAULT_TOKEN, Fault, Sandbox, SandboxConfig, serve
from descript_mcp.server.errors import tool_message

pytestmark = pytest.mark.anyio

TEAMMATE = "teammate-token"
IMPORTS = "/jobs/import/project_media"
RUNS = 200
# One look, at once: the runs wait for nothing.
ONE_LOOK = RetryPolicy(backoff_initial=0.001, backoff_max=0.01, recovery_delays=(0.0,))
# How far from the request a teammate's job is dated: beyond a second of Date resolution, one
# of `created_at` resolution, the Date's allowed lateness, and a second for a busy machine.
FAR = 3.0 + DATE_LAG
# How far the sandbox's clock moves either way before each request: within the margin allowed
# for Descript's servers disagreeing, over two requests.
JITTER = SERVER_MARGIN / 2.5
# One look, moments after the failure: the sandbox's job list leaves out jobs dated after its
# now, where a clock jittering back puts a job just made for a few milliseconds.
JITTERED_LOOK = RetryPolicy(
    backoff_initial=0.001, backoff_max=0.01, recovery_delays=(2.5 * JITTER,)
)


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


def named(error: UnconfirmedSubmissionError) -> set[str]:
    return set(error.candidates) | set(error.nearby)


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


async def test_a_date_later_than_allowed_for_still_names_the_job(
    sandbox: Sandbox, api: str
) -> None:
    """A cache in front of Descript's that holds its Date 2.5 s: the window misses the job,
    on a project where a teammate worked minutes ago, so it is not claimed; it is named."""
    project_id = new_project(sandbox, "Show")
    async with DescriptClient(TEAMMATE, base_url=api, retry=ONE_LOOK) as teammate:
        earlier = await teammate.import_project_media(ImportMediaRequest(project_id=project_id))
    sandbox.world.jobs[earlier.job_id].created_at -= timedelta(minutes=5)
    edge = Edge(sandbox, offset=0.0, date_lag=DATE_LAG + 1.5)
    sandbox.faults.add(Fault("POST", IMPORTS, status=502, when="after", token=DEFAULT_TOKEN))
    async with DescriptClient(DEFAULT_TOKEN, base_url=api, transport=edge, retry=ONE_LOOK) as me:
        with pytest.raises(UnconfirmedSubmissionError) as caught:
            await me.import_project_media(ImportMediaRequest(project_id=project_id))
    (ours,) = jobs_of(sandbox, DEFAULT_TOKEN)
    assert ours not in caught.value.candidates  # outside the window the late Date gave
    assert caught.value.nearby == [ours, earlier.job_id]
    text = str(caught.value)
    assert "another client started 2 job(s) of this kind on this project" in text
    assert f"{ours}, {earlier.job_id}" in text
    assert "Do not submit it again" in text


async def test_a_teammates_job_just_after_the_failure_is_not_claimed_once_ours_show_the_clock(
    sandbox: Sandbox, api: str
) -> None:
    """The allowance for a late Date keeps the window open a second after the failure, long
    enough to take a teammate's job started then for ours (the soak saw it). The client's own
    import on the project, in the job list, shows Descript's clock with no header between:
    the window closes after the failure by no more than that import's round trip, and the
    teammate's edit, its first on the project, started 50 ms after that, is not claimed. It is
    named apart. (The round trip is measured: on a loaded machine it can exceed the 50 ms.)"""
    theirs: list[str] = []
    import_round_trip = 0.0

    async def teammate_acts_while_recovery_pauses(seconds: float) -> None:
        await anyio.sleep(seconds + import_round_trip)
        if not theirs:
            async with DescriptClient(TEAMMATE, base_url=api, retry=ONE_LOOK) as teammate:
                edit = await teammate.agent_edit(
                    AgentEditRequest(project_id=project_id, prompt="T")
                )
            theirs.append(edit.job_id)

    pause = RetryPolicy(recovery_delays=(0.05,), recovery_timeout=20)
    async with DescriptClient(
        DEFAULT_TOKEN, base_url=api, retry=pause, sleep=teammate_acts_while_recovery_pauses
    ) as me:
        started = time.time()
        project_id = (
            await me.import_project_media(ImportMediaRequest(project_name="Show"))
        ).project_id
        import_round_trip = time.time() - started
        sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="before"))
        with pytest.raises(UnconfirmedSubmissionError) as caught:
            await me.agent_edit(AgentEditRequest(project_id=project_id, prompt="Mine"))
    assert caught.value.candidates == []
    assert caught.value.nearby == theirs
    assert "another client started 1 job(s) of this kind on this project" in str(caught.value)


ROUTES = {"import": IMPORTS, "agent edit": "/jobs/agent"}
FAILURES = {
    "502 after the job was made": {"status": 502, "when": "after"},
    "connection dropped after the job was made": {"kind": "drop", "when": "after"},
    "502 before anything was made": {"status": 502, "when": "before"},
}


async def submit(client: DescriptClient, kind: str, place: dict[str, str]) -> JobCreatedBase:
    if kind == "import":
        return await client.import_project_media(ImportMediaRequest(**place))  # type: ignore[arg-type]
    return await client.agent_edit(AgentEditRequest(prompt="Tighten the intro", **place))  # type: ignore[arg-type]


async def test_every_job_accepted_is_claimed_or_named_over_200_runs(
    sandbox: Sandbox, api: str
) -> None:
    """200 runs, each a fresh client (nothing learnt of Descript's clock yet) making a few
    requests, then a job-creating one that fails ambiguously: a 502 or a dropped connection
    after the job was made, or a 502 before. Each run at a random offset between the clocks,
    moved a few milliseconds either way before each request; a Date header exact, or cached
    and refreshed at a random moment of each second (up to a second late), or, in some runs,
    later than the window allows for; `created_at` to the millisecond or to the second; into
    a known project or a new one of a name; a teammate's job of the same kind in the same
    place minutes before, or made while the request is in flight, or none; in some runs a job
    of the client's own accepted first, which the job list then shows with its `created_at`.

    Every job Descript accepted for the client is claimed or named in the error and in the
    tool's answer; a teammate's is never claimed; and where the Date is within what the
    window allows and the job provably the request's, it is claimed."""
    tally: Counter[str] = Counter()
    rng = random.Random(23)
    async with DescriptClient(TEAMMATE, base_url=api, retry=ONE_LOOK) as teammate:
        for run in range(RUNS):
            tally[await one_run(sandbox, api, teammate, rng, run)] += 1
    print(f"\n{RUNS} runs: " + "; ".join(f"{what}: {n}" for what, n in sorted(tally.items())))
    assert not [what for what in tally if what.startswith("lost")]
    # Every way a run can end was seen.
    assert {what.removesuffix(LATE) for what in tally} == {
        "claimed",
        "named as a candidate",
        "named apart",
        "nothing made, nothing claimed",
    }


async def one_run(
    sandbox: Sandbox, api: str, teammate: DescriptClient, rng: random.Random, run: int
) -> str:
    """One submission that fails ambiguously: what became of the job Descript accepted."""
    kind, failure = rng.choice(sorted(ROUTES)), rng.choice(sorted(FAILURES))
    new = rng.random() < 0.5
    mate = rng.choice(["nowhere", "minutes before", "in flight"])
    if mate == "in flight" and "before" in failure:
        mate = "nowhere"  # the teammate's lone job would be the case no rule can tell apart
    late = rng.random() < 0.15
    own_job_first = rng.random() < 0.4
    sandbox.config.date_refreshed_at = None if rng.random() < 0.2 else rng.random()
    # Each run eight days after the last on Descript's clock: its jobs are the only ones the
    # job list shows (the last seven days, unless asked).
    offset = 8 * 86400.0 * run + rng.uniform(-5, 5)
    sandbox.config.clock_offset = offset
    edge = Edge(
        sandbox,
        offset=offset,
        jitter=JITTER,
        date_lag=DATE_LAG + rng.uniform(0.2, 1.5) if late else 0.0,
        whole_seconds=rng.random() < 0.5,
        rng=rng,
    )
    name = f"Run {run}"
    place = {"project_name": name} if new else {"project_id": new_project(sandbox, name)}
    theirs: list[str] = []
    if mate == "minutes before":
        made = sandbox.world.jobs[(await submit(teammate, kind, place)).job_id]
        earlier = timedelta(seconds=FAR + rng.uniform(0, 300))
        for record in (made, sandbox.world.projects[made.project_id or ""]):
            if record.created_at >= made.created_at:  # its project too, if it made one
                record.created_at -= earlier
        theirs.append(made.id)
    mine = {"method": "POST", "path": ROUTES[kind], "token": DEFAULT_TOKEN}
    posts = len(sandbox.api_requests("POST", ROUTES[kind]))
    outcome: JobCreatedBase | UnconfirmedSubmissionError

    async def teammate_acts(in_flight: Fault) -> None:
        await in_flight.fired()
        theirs.append((await submit(teammate, kind, place)).job_id)
        in_flight.release()

    async with (
        DescriptClient(DEFAULT_TOKEN, base_url=api, transport=edge, retry=JITTERED_LOOK) as me,
        anyio.create_task_group() as group,
    ):
        for _ in range(rng.randrange(4)):
            await me.get_status()
        if own_job_first:  # to be seen again in the job list, showing Descript's clock
            await submit(me, kind, place)
            posts += 1
        if mate == "in flight":  # the teammate acts while the request waits in the sandbox
            group.start_soon(
                teammate_acts, sandbox.faults.add(Fault(**mine, kind="latency", holds=True))
            )
        sandbox.faults.add(Fault(**mine, **FAILURES[failure]))  # type: ignore[arg-type]
        before = jobs_of(sandbox, DEFAULT_TOKEN)
        try:
            outcome = await submit(me, kind, place)
        except UnconfirmedSubmissionError as error:
            outcome = error
    ours = jobs_of(sandbox, DEFAULT_TOKEN) - before
    assert len(sandbox.api_requests("POST", ROUTES[kind])) == posts + 1 + (mate == "in flight")
    # Provably the request's: no teammate's job could be it, nor does one on a known project.
    provable = mate == "nowhere" or (mate == "minutes before" and new)
    return ended(outcome, ours, set(theirs), late, provable=provable) + (LATE if late else "")


LATE = " (Date later than allowed for)"


def ended(
    outcome: JobCreatedBase | UnconfirmedSubmissionError,
    ours: set[str],
    theirs: set[str],
    late: bool,
    *,
    provable: bool,
) -> str:
    """How a run ended, checked against what it had to: a claim of the run's own job only;
    with the Date within what the window allows, a claim where the job is provably the
    request's (no teammate in flight, and none on a known project), else the job named as a
    candidate; every job named in the tool's answer as well."""
    if not isinstance(outcome, UnconfirmedSubmissionError):
        assert {outcome.job_id} == ours, (outcome.job_id, ours, theirs)
        return "claimed"
    told = tool_message(outcome)
    assert all(job_id in told for job_id in [*outcome.candidates, *outcome.nearby])
    if not ours:
        return "nothing made, nothing claimed"
    (job_id,) = ours
    assert late or not provable, str(outcome)
    assert late or job_id in outcome.candidates, str(outcome)
    if job_id in outcome.candidates:
        return "named as a candidate"
    return "named apart" if job_id in outcome.nearby else "lost"
