"""Never paying twice with other clients on the drive: what recovery after an ambiguous failure
of a job-creating POST may claim, and what it may cancel. Against the sandbox over real HTTP,
with a teammate (another token on the same drive, its own client and ledger, in one test its
own process) creating jobs of the same kind on the same project around the failure. Every test
asserts from the sandbox's request log: no POST sent twice, no job of another token claimed or
cancelled."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta

import anyio
import pytest

from descript_mcp import (
    DescriptClient,
    RateLimitError,
    RetryPolicy,
    UnconfirmedSubmissionError,
    UploadURLsLostError,
)
from descript_mcp.client.clock import DATE_LAG
from descript_mcp.client.models import (
    AgentEditRequest,
    ImportMediaRequest,
    NewComposition,
    UploadMedia,
    UrlMedia,
)
from descript_mcp.errors import NotFoundError, ResponseFormatError, ServerError
from descript_mcp.sandbox import DEFAULT_TOKEN, Fault, Sandbox, SandboxConfig, serve
from descript_mcp.sandbox.state import Job
from tests.conftest import wait

pytestmark = pytest.mark.anyio

TEAMMATE = "teammate-token"
IMPORTS = "/jobs/import/project_media"
# Recovery looks twice: at once, and after the teammate has acted.
RECOVERY = RetryPolicy(
    backoff_initial=0.001,
    backoff_max=0.01,
    recovery_delays=(0.0, 2.0),
    recovery_timeout=20,
)
# Farther than any window can reach: a Date header is precise to the second, and may be as
# much as DATE_LAG later than that (a cache); a margin for a busy machine. Jobs are dated this
# far apart on the sandbox's clock (`dated`), not waited for.
APART = 2.2 + DATE_LAG


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    config = SandboxConfig.for_tests()
    config.drives[0].tokens = (DEFAULT_TOKEN, TEAMMATE)
    return config


@pytest.fixture(autouse=True)
def nothing_paid_twice_or_cancelled_for_others(sandbox: Sandbox) -> Iterator[None]:
    """After every test, from the sandbox's request log: no job-creating request reached
    Descript twice (a retry only after a 429, which creates nothing), and no token cancelled a
    job another token made."""
    yield
    attempts: dict[str, list[int]] = {}
    for record in sandbox.api_requests("POST", "/jobs/"):
        attempts.setdefault(record.request_id or "", []).append(record.status)
    for statuses in attempts.values():
        assert all(status == 429 for status in statuses[:-1]), statuses
    assert foreign_deletes(sandbox) == []


@pytest.fixture
async def api(sandbox: Sandbox) -> AsyncIterator[str]:
    async with serve(sandbox) as url:
        yield url


@pytest.fixture
async def me(api: str) -> AsyncIterator[DescriptClient]:
    async with DescriptClient(DEFAULT_TOKEN, base_url=api, retry=RECOVERY) as client:
        yield client


@pytest.fixture
async def teammate(api: str) -> AsyncIterator[DescriptClient]:
    async with DescriptClient(TEAMMATE, base_url=api, retry=RECOVERY) as client:
        yield client


@pytest.fixture
def project(me: DescriptClient, api: str) -> Callable[[], Awaitable[str]]:
    async def make() -> str:
        sample = api.removesuffix("/v1") + "/_sandbox/media/sample.wav"
        created = await me.import_project_media(
            ImportMediaRequest(
                project_name="Shared",
                add_media={"sample.wav": UrlMedia(url=sample)},
                add_compositions=[NewComposition(name="Main", clips=[{"media": "sample.wav"}])],  # type: ignore[list-item]
            )
        )
        await wait(me, created.job_id)
        return created.project_id

    return make


def dated(sandbox: Sandbox, job_id: str, seconds: float) -> None:
    """As if the job, and the project it made with it, had been created `seconds` later (earlier
    when negative): the sandbox's record is moved, instead of the test waiting."""
    job = sandbox.world.jobs[job_id]
    project = sandbox.world.projects[job.project_id]
    if project.created_at >= job.created_at:
        project.created_at += timedelta(seconds=seconds)
    job.created_at += timedelta(seconds=seconds)


def posts(sandbox: Sandbox, route: str, token: str = DEFAULT_TOKEN) -> int:
    return sum(1 for r in sandbox.api_requests("POST", route) if r.token == token)


def jobs_of(sandbox: Sandbox, token: str) -> set[str]:
    return {job.id for job in sandbox.world.jobs.values() if job.token == token}


def foreign_deletes(sandbox: Sandbox) -> list[str]:
    """Jobs cancelled by a token that did not create them."""
    found = []
    for record in sandbox.api_requests("DELETE", "/jobs/"):
        job = sandbox.world.jobs.get(record.path.rsplit("/", 1)[-1])
        if job is not None and job.token != record.token:
            found.append(job.id)
    return found


def says_not_to_resubmit(error: UnconfirmedSubmissionError) -> None:
    text = str(error)
    assert "Do not submit it again" in text
    assert "retry" not in text.lower().replace("retry_after", "")


async def test_a_teammates_job_from_just_before_the_request_is_not_claimed(
    me: DescriptClient, teammate: DescriptClient, sandbox: Sandbox, project
) -> None:
    """A 502 before anything was created; the only new job on the project is a teammate's,
    started moments before the request. A fixed look-back took it for ours."""
    project_id = await project()
    theirs = await teammate.agent_edit(AgentEditRequest(project_id=project_id, prompt="Theirs"))
    dated(sandbox, theirs.job_id, -APART)
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="before"))
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        await me.agent_edit(AgentEditRequest(project_id=project_id, prompt="Mine"))
    assert caught.value.candidates == []
    assert caught.value.nearby == [theirs.job_id]  # named apart: the caller may check it
    assert theirs.job_id in sandbox.world.jobs
    says_not_to_resubmit(caught.value)
    assert posts(sandbox, "/jobs/agent") == 1


async def test_a_teammates_job_from_just_after_the_failure_is_not_claimed(
    teammate: DescriptClient, sandbox: Sandbox, project, api: str
) -> None:
    """The teammate starts a job on the project after the 502 was seen and before recovery
    looked again: it is the only new job, and still not ours."""
    project_id = await project()
    theirs: list[str] = []

    async def teammate_acts_while_recovery_pauses(seconds: float) -> None:
        if seconds and not theirs:  # between recovery's two looks, after the 502 was seen
            created = await teammate.agent_edit(AgentEditRequest(project_id=project_id, prompt="T"))
            dated(sandbox, created.job_id, APART)
            theirs.append(created.job_id)

    patient = DescriptClient(
        DEFAULT_TOKEN,
        base_url=api,
        retry=RetryPolicy(recovery_delays=(0.0, 1.0), recovery_timeout=20),
        sleep=teammate_acts_while_recovery_pauses,
    )
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="before"))
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        async with patient:
            await patient.agent_edit(AgentEditRequest(project_id=project_id, prompt="Mine"))
    assert theirs
    assert theirs[0] in sandbox.world.jobs
    assert caught.value.candidates == []  # seen on the second look, outside the window
    says_not_to_resubmit(caught.value)
    assert posts(sandbox, "/jobs/agent") == 1


async def test_two_jobs_in_the_window_are_both_named_and_neither_claimed(
    me: DescriptClient, sandbox: Sandbox, project, api: str
) -> None:
    """While the request is in flight a teammate, in a process of its own, starts an import
    into the same project; then Descript creates ours and answers 502. Either could be it."""
    project_id = await project()
    before = jobs_of(sandbox, DEFAULT_TOKEN)
    in_flight = sandbox.faults.add(
        Fault("POST", IMPORTS, kind="latency", holds=True, token=DEFAULT_TOKEN)
    )
    sandbox.faults.add(Fault("POST", IMPORTS, status=502, when="after", token=DEFAULT_TOKEN))
    script = (
        "import anyio, sys\n"
        "from descript_mcp import DescriptClient\n"
        "from descript_mcp.client.models import ImportMediaRequest\n"
        "async def main():\n"
        f"    async with DescriptClient({TEAMMATE!r}, base_url={api!r}) as client:\n"
        f"        created = await client.import_project_media(ImportMediaRequest("
        f"project_id={project_id!r}))\n"
        "        print(created.job_id)\n"
        "anyio.run(main)\n"
    )
    theirs: list[str] = []

    async def teammate_process() -> None:
        await in_flight.fired()
        done = await anyio.run_process([sys.executable, "-c", script], stderr=subprocess.STDOUT)
        theirs.append(done.stdout.decode().strip())
        in_flight.release()

    async with anyio.create_task_group() as group:
        group.start_soon(teammate_process)
        with pytest.raises(UnconfirmedSubmissionError) as caught:
            await me.import_project_media(ImportMediaRequest(project_id=project_id))
    (ours,) = jobs_of(sandbox, DEFAULT_TOKEN) - before
    assert sandbox.world.jobs[theirs[0]].token == TEAMMATE
    assert sorted(caught.value.candidates) == sorted([ours, theirs[0]])
    assert "several jobs could be it" in str(caught.value)
    says_not_to_resubmit(caught.value)
    assert posts(sandbox, IMPORTS) == 2  # the project's import, and this one: each once


async def test_the_one_new_job_is_claimed_when_it_is_provably_ours(
    me: DescriptClient, teammate: DescriptClient, sandbox: Sandbox, project
) -> None:
    """While the request is in flight a teammate imports into the project and edits another
    one: neither is the same kind on the same project, so ours is found, theirs left alone."""
    project_id, elsewhere = await project(), await project()
    mine = {"method": "POST", "path": "/jobs/agent", "token": DEFAULT_TOKEN}
    in_flight = sandbox.faults.add(Fault(**mine, kind="latency", holds=True))
    sandbox.faults.add(Fault(**mine, status=502, when="after"))

    async def teammate_acts() -> None:
        await in_flight.fired()
        await teammate.import_project_media(ImportMediaRequest(project_id=project_id))
        await teammate.agent_edit(AgentEditRequest(project_id=elsewhere, prompt="T"))
        in_flight.release()

    async with anyio.create_task_group() as group:
        group.start_soon(teammate_acts)
        created = await me.agent_edit(AgentEditRequest(project_id=project_id, prompt="Mine"))
    assert sandbox.world.jobs[created.job_id].token == DEFAULT_TOKEN
    assert len(jobs_of(sandbox, TEAMMATE)) == 2
    assert posts(sandbox, "/jobs/agent") == 1


async def test_a_lone_job_on_a_project_someone_else_works_on_is_not_claimed(
    me: DescriptClient, teammate: DescriptClient, sandbox: Sandbox, project
) -> None:
    """A teammate edited the project minutes ago; then our request fails after Descript made
    our job. It is the only one in the window, but the teammate could have made it: unsure."""
    project_id = await project()
    earlier = await teammate.agent_edit(AgentEditRequest(project_id=project_id, prompt="T"))
    dated(sandbox, earlier.job_id, -APART)
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="after"))
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        await me.agent_edit(AgentEditRequest(project_id=project_id, prompt="Mine"))
    (ours,) = [j for j in jobs_of(sandbox, DEFAULT_TOKEN) if sandbox.world.jobs[j].type == "agent"]
    assert caught.value.candidates == [ours]
    assert caught.value.nearby == [earlier.job_id]
    assert "another client started 1 job(s) of this kind on this project" in str(caught.value)
    says_not_to_resubmit(caught.value)


@pytest.mark.parametrize("offset", [-90.0, 90.0])
async def test_descripts_clock_is_read_from_its_date_header(
    me: DescriptClient, teammate: DescriptClient, sandbox: Sandbox, offset: float
) -> None:
    """Descript's clock 90 s off ours. Behind, a fixed minute of slack missed our own job;
    ahead, it took for ours a teammate's new project of the same name from seconds before."""
    sandbox.config.clock_offset = offset
    theirs = await teammate.agent_edit(AgentEditRequest(project_name="Teaser", prompt="T"))
    dated(sandbox, theirs.job_id, -APART)
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="after"))
    created = await me.agent_edit(AgentEditRequest(project_name="Teaser", prompt="Mine"))
    assert sandbox.world.jobs[created.job_id].token == DEFAULT_TOKEN
    dated(sandbox, created.job_id, -APART)
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="before"))
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        await me.agent_edit(AgentEditRequest(project_name="Teaser", prompt="Mine again"))
    assert caught.value.candidates == []
    assert posts(sandbox, "/jobs/agent") == 2


async def test_a_new_project_is_matched_by_its_exact_name_and_creation(
    me: DescriptClient, teammate: DescriptClient, sandbox: Sandbox
) -> None:
    """A teammate's new project of another name, created in the same moment, is not ours."""
    mine = {"path": "/jobs/agent", "method": "POST", "token": DEFAULT_TOKEN}
    in_flight = sandbox.faults.add(Fault(**mine, kind="latency", holds=True))
    sandbox.faults.add(Fault(**mine, status=502, when="after"))
    theirs: list[str] = []

    async def teammate_acts() -> None:
        await in_flight.fired()
        created = await teammate.agent_edit(AgentEditRequest(project_name="Draft", prompt="T"))
        theirs.append(created.job_id)
        in_flight.release()

    async with anyio.create_task_group() as group:
        group.start_soon(teammate_acts)
        created = await me.agent_edit(AgentEditRequest(project_name="Teaser", prompt="Mine"))
    assert sandbox.world.jobs[created.job_id].token == DEFAULT_TOKEN
    assert sandbox.world.projects[created.project_id].name == "Teaser"
    assert theirs
    assert theirs[0] != created.job_id


async def test_an_import_into_a_new_unnamed_project_is_never_claimed(
    me: DescriptClient, teammate: DescriptClient, sandbox: Sandbox
) -> None:
    sandbox.faults.add(Fault("POST", IMPORTS, status=502, when="after"))
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        await me.import_project_media(ImportMediaRequest())
    (ours,) = jobs_of(sandbox, DEFAULT_TOKEN)
    assert caught.value.candidates == [ours]
    assert "without a name" in str(caught.value)
    # A teammate's unnamed import alone in the window is not taken for ours either.
    await teammate.import_project_media(ImportMediaRequest())
    sandbox.faults.add(Fault("POST", IMPORTS, status=502, when="before"))
    with pytest.raises(UnconfirmedSubmissionError):
        await me.import_project_media(ImportMediaRequest())
    assert posts(sandbox, IMPORTS) == 2


async def test_an_upload_import_is_cancelled_only_when_proven_ours(
    me: DescriptClient, sandbox: Sandbox, project
) -> None:
    """The answer with the upload URLs is lost. Proven ours: cancelled, safe to resubmit. With
    a teammate's upload import in the same window: nothing is cancelled at all."""
    upload = {"a.wav": UploadMedia(content_type="audio/wav", file_size=10)}
    project_id = await project()
    sandbox.faults.add(Fault("POST", IMPORTS, status=500, when="after"))
    with pytest.raises(UploadURLsLostError) as lost:
        await me.import_project_media(ImportMediaRequest(project_id=project_id, add_media=upload))
    assert lost.value.cancelled
    assert sandbox.world.jobs[lost.value.job.job_id].state == "cancelled"

    in_flight = sandbox.faults.add(
        Fault("POST", IMPORTS, kind="latency", holds=True, token=DEFAULT_TOKEN)
    )
    sandbox.faults.add(Fault("POST", IMPORTS, status=500, when="after", token=DEFAULT_TOKEN))

    async def teammate_acts() -> None:
        await in_flight.fired()
        async with DescriptClient(TEAMMATE, base_url=me.base_url) as teammate:
            await teammate.import_project_media(
                ImportMediaRequest(
                    project_id=project_id,
                    add_media={"b.wav": UploadMedia(content_type="audio/wav", file_size=10)},
                )
            )
        in_flight.release()

    async with anyio.create_task_group() as group:
        group.start_soon(teammate_acts)
        with pytest.raises(UnconfirmedSubmissionError) as caught:
            await me.import_project_media(
                ImportMediaRequest(
                    project_id=project_id,
                    add_media={"c.wav": UploadMedia(content_type="audio/wav", file_size=10)},
                )
            )
    assert len(caught.value.candidates) == 2
    assert [r.path for r in sandbox.api_requests("DELETE")] == [f"/jobs/{lost.value.job.job_id}"]
    assert foreign_deletes(sandbox) == []


@pytest.mark.parametrize(
    ("fault", "cause"),
    [
        (Fault("GET", "/jobs", status=429, retry_after=120, times=None), RateLimitError),
        (Fault("GET", "/jobs", status=503, times=None), ServerError),
        (Fault("GET", "/jobs", kind="malformed", when="after", times=None), ResponseFormatError),
        (Fault("GET", "/projects/.+", status=404, times=None), NotFoundError),
    ],
    ids=["429 retry after 120", "503", "garbage", "404 project"],
)
async def test_every_failure_while_looking_ends_as_unconfirmed(
    me: DescriptClient, sandbox: Sandbox, fault: Fault, cause: type[Exception]
) -> None:
    """An error inside recovery never reaches the caller as "retry": the job may exist."""
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="after"))
    sandbox.faults.add(fault)
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        await me.agent_edit(AgentEditRequest(project_name="Named", prompt="Mine"))
    assert isinstance(caught.value.cause, ServerError)  # the request's own failure
    assert isinstance(caught.value.__cause__, cause)  # what failed while looking
    assert fault.hits > 0
    says_not_to_resubmit(caught.value)
    assert posts(sandbox, "/jobs/agent") == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault("GET", "/projects/.+", status=404, times=None),
        Fault("GET", "/projects/.+", kind="latency", latency=2.0),
    ],
    ids=["404 project", "project too slow"],
)
async def test_a_failure_after_the_job_list_was_read_still_names_the_jobs_read(
    api: str, sandbox: Sandbox, fault: Fault
) -> None:
    """The job list showed the job; reading its project, to match the new project's name,
    then failed or ran out of time: the job is named all the same."""
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="after"))
    sandbox.faults.add(fault)
    policy = RetryPolicy(max_attempts=1, recovery_delays=(0.0,), recovery_timeout=0.5)
    async with DescriptClient(DEFAULT_TOKEN, base_url=api, retry=policy) as client:
        with pytest.raises(UnconfirmedSubmissionError) as caught:
            await client.agent_edit(AgentEditRequest(project_name="Named", prompt="Mine"))
    (ours,) = jobs_of(sandbox, DEFAULT_TOKEN)
    assert caught.value.nearby == [ours]
    assert ours in str(caught.value)
    says_not_to_resubmit(caught.value)


async def test_time_running_out_while_looking_ends_as_unconfirmed(
    api: str, sandbox: Sandbox
) -> None:
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="after"))
    slow = sandbox.faults.add(Fault("GET", "/jobs", kind="latency", latency=2.0))
    policy = RetryPolicy(recovery_delays=(0.0,), recovery_timeout=0.5)
    async with DescriptClient(DEFAULT_TOKEN, base_url=api, retry=policy) as client:
        with pytest.raises(UnconfirmedSubmissionError, match="timed out") as caught:
            await client.agent_edit(AgentEditRequest(project_name="Slow", prompt="Mine"))
    assert slow.hits == 1
    assert isinstance(caught.value.__cause__, TimeoutError)


class OddJob(Job):
    """A job as Descript may one day answer it: a state and a percent this client has no
    name for."""

    def to_json(self) -> dict[str, object]:
        return super().to_json() | {
            "job_state": "archived",
            "progress": {"label": "Archiving", "percent": 12.5},
        }


class UnreadableJob(Job):
    def to_json(self) -> dict[str, object]:
        return {"job_id": self.id, "job_type": self.type, "created_at": "yesterday"}


async def test_odd_jobs_are_read_as_they_came_and_never_break_a_page(
    me: DescriptClient, sandbox: Sandbox, project
) -> None:
    project_id = await project()
    drive = sandbox.config.drives[0].id
    sandbox.world.add_job(OddJob("odd-1", "agent", drive, project_id, "u", token=TEAMMATE))
    page = await me.list_jobs_page(project_id=project_id)
    odd = next(job for job in page.items if job.job_id == "odd-1")
    assert (odd.job_state, odd.progress.percent if odd.progress else None) == ("archived", 12.5)
    assert not odd.is_terminal
    # One unreadable job is set aside; the page and a recovery still stand.
    sandbox.world.add_job(UnreadableJob("bad-1", "publish", drive, "other", "u"))
    page = await me.list_jobs_page()
    assert [raw["job_id"] for raw in page.unreadable] == ["bad-1"]
    assert {job.job_id for job in page.items} >= {"odd-1"}
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="after"))
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        await me.agent_edit(AgentEditRequest(project_name="Named", prompt="Mine"))
    assert "bad-1" in caught.value.candidates
    assert "could not be read" in str(caught.value)


async def test_a_slow_success_is_never_reported_by_a_failed_call_beside_it(
    me: DescriptClient, sandbox: Sandbox, project
) -> None:
    """In one process: call A succeeds slowly (its job exists, its answer is late) while call
    B, on the same project, gets a 502 with nothing created. B must not report A's job."""
    project_id = await project()
    late = sandbox.faults.add(
        Fault("POST", "/jobs/agent", kind="latency", when="after", holds=True)
    )
    answers: dict[str, str] = {}

    async def call_a() -> None:
        created = await me.agent_edit(AgentEditRequest(project_id=project_id, prompt="A"))
        answers["A"] = created.job_id

    async with anyio.create_task_group() as group:
        group.start_soon(call_a)
        await late.fired()  # A's job exists, its answer is on its way
        sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="before"))
        with pytest.raises(UnconfirmedSubmissionError) as caught:
            await me.agent_edit(AgentEditRequest(project_id=project_id, prompt="B"))
        late.release()  # A's answer arrives after B has failed
    assert sandbox.world.jobs[answers["A"]].type == "agent"
    assert "in flight" in str(caught.value)
    says_not_to_resubmit(caught.value)
    assert posts(sandbox, "/jobs/agent") == 2


async def test_a_job_seen_in_the_window_twice_is_claimed_by_one_submission_only(
    api: str, sandbox: Sandbox, project
) -> None:
    """Two clients sharing a ledger fail ambiguously on the same project at once: each sees
    the other in flight, so neither takes the one job for its own."""
    from descript_mcp.client.ledger import InMemoryLedger

    project_id = await project()
    ledger = InMemoryLedger()
    # One request makes the job and the other not; both are held until both are in flight.
    made = sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="after", holds=True))
    not_made = sandbox.faults.add(
        Fault("POST", "/jobs/agent", status=502, when="before", holds=True)
    )
    outcomes: list[BaseException] = []

    async def both_in_flight() -> None:
        await made.fired()
        await not_made.fired()
        made.release()
        not_made.release()

    async def submit(prompt: str) -> None:
        async with DescriptClient(
            DEFAULT_TOKEN, base_url=api, retry=RECOVERY, ledger=ledger
        ) as client:
            try:
                await client.agent_edit(AgentEditRequest(project_id=project_id, prompt=prompt))
            except UnconfirmedSubmissionError as error:
                outcomes.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(both_in_flight)
        group.start_soon(submit, "A")
        group.start_soon(submit, "B")
    assert len(outcomes) == 2
    assert all("in flight" in str(error) for error in outcomes)
    assert posts(sandbox, "/jobs/agent") == 2
