"""Retry rules: safe requests retry, job-creating POSTs are never sent twice."""

from __future__ import annotations

import httpx
import pytest

from descript_mcp import (
    NO_RETRIES,
    APIConnectionError,
    DescriptClient,
    RateLimitError,
    RetryPolicy,
    ServerError,
    UnconfirmedSubmissionError,
    UploadURLsLostError,
)
from descript_mcp.client.models import (
    AgentEditRequest,
    ImportMediaRequest,
    PublishRequest,
    UploadMedia,
    UrlMedia,
)
from descript_mcp.client.retry import retry_delay
from descript_mcp.client.waiter import wait_for_job
from descript_mcp.errors import parse_retry_after
from descript_mcp.sandbox import Fault, Sandbox
from tests.conftest import wait

pytestmark = pytest.mark.anyio


class RecordingSleep:
    """Stands in for anyio.sleep: remembers each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


async def test_get_is_retried_after_5xx_until_it_succeeds(make_client, sandbox: Sandbox) -> None:
    sandbox.faults.add(Fault("GET", "/status", status=503, times=2))
    sleep = RecordingSleep()
    async with make_client(sleep=sleep) as client:
        status = await client.get_status()
    assert status.api_version == "1.2"
    assert [r.status for r in sandbox.api_requests("GET", "/status")] == [503, 503, 200]
    assert len(sleep.delays) == 2


async def test_retry_after_is_honoured(make_client, sandbox: Sandbox) -> None:
    sandbox.faults.add(Fault("GET", "/jobs", status=429, retry_after=7))
    sleep = RecordingSleep()
    async with make_client(sleep=sleep) as client:
        page = await client.list_jobs_page()
    assert page.items == []
    assert sleep.delays == [7.0]


async def test_a_retry_after_beyond_the_budget_is_handed_to_the_caller(
    make_client, sandbox: Sandbox
) -> None:
    sandbox.faults.add(Fault("GET", "/status", status=429, retry_after=600))
    sleep = RecordingSleep()
    async with make_client(sleep=sleep) as client:
        with pytest.raises(RateLimitError) as caught:
            await client.get_status()
    assert caught.value.retry_after == 600
    assert sleep.delays == []


async def test_retries_stop_at_the_total_time_budget(make_client, sandbox: Sandbox) -> None:
    sandbox.faults.add(Fault("GET", "/status", status=429, retry_after=30, times=10))
    policy = RetryPolicy(max_attempts=10, total_timeout=70)
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        clock[0] += seconds

    async with make_client(retry=policy, sleep=sleep, clock=lambda: clock[0]) as client:
        with pytest.raises(RateLimitError):
            await client.get_status()
    assert clock[0] == 60.0  # a third wait would pass the 70 s budget
    assert len(sandbox.api_requests("GET", "/status")) == 3


async def test_cancel_job_is_retried_after_a_dropped_connection(
    sandbox: Sandbox, imported_project, make_client
) -> None:
    created = await imported_project()
    flaky = FlakyTransport(httpx.ASGITransport(app=sandbox.app), [httpx.RemoteProtocolError("x")])
    async with DescriptClient(
        sandbox.token,
        base_url="http://sandbox.test/v1",
        transport=flaky,
        retry=RetryPolicy(backoff_initial=0.001),
    ) as client:
        await client.cancel_job(created.job_id)
    assert flaky.sent == 2


async def test_import_post_is_not_sent_twice_after_a_502_and_the_job_is_found(
    client: DescriptClient, sandbox: Sandbox, media_url: str
) -> None:
    sandbox.faults.add(Fault("POST", "/jobs/import/project_media", status=502, when="after"))
    created = await client.import_project_media(
        ImportMediaRequest(project_name="Ghost", add_media={"a.wav": UrlMedia(url=media_url)})
    )
    assert len(sandbox.api_requests("POST", "/jobs/import/project_media")) == 1
    assert list(sandbox.world.jobs) == [created.job_id]
    assert created.project_id == sandbox.world.jobs[created.job_id].project_id
    job = await wait(client, created.job_id)
    assert job.result is not None
    assert job.result.status == "success"


async def test_publish_post_after_a_read_timeout_is_found_not_resent(
    sandbox: Sandbox, imported_project
) -> None:
    created = await imported_project()
    lost_answer = FlakyTransport(
        httpx.ASGITransport(app=sandbox.app), [], lose_answer_of="/v1/jobs/publish"
    )
    async with DescriptClient(
        sandbox.token, base_url="http://sandbox.test/v1", transport=lost_answer
    ) as client:
        publish = await client.publish(PublishRequest(project_id=created.project_id))
    assert len(sandbox.api_requests("POST", "/jobs/publish")) == 1
    assert publish.job_id.startswith(f"project-media-publish-{created.project_id}")


async def test_a_502_before_anything_was_created_is_reported_not_resent(
    client: DescriptClient, sandbox: Sandbox, imported_project
) -> None:
    created = await imported_project()
    sandbox.faults.add(Fault("POST", "/jobs/agent", status=502, when="before"))
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        await client.agent_edit(AgentEditRequest(project_id=created.project_id, prompt="Edit"))
    assert caught.value.candidates == []
    assert isinstance(caught.value.cause, ServerError)
    assert "Do not submit it again" in str(caught.value)
    assert len(sandbox.api_requests("POST", "/jobs/agent")) == 1


async def test_another_clients_new_job_is_never_claimed_after_a_failed_post(
    client: DescriptClient, make_client, sandbox: Sandbox
) -> None:
    """A 502 before anything was created, while another client on the drive started an
    import: that job is the only new one, but it is for another project, so it is not ours."""
    async with make_client() as someone_else:
        await someone_else.import_project_media(ImportMediaRequest(project_name="Theirs"))
    sandbox.faults.add(Fault("POST", "/jobs/import/project_media", status=502, when="before"))
    with pytest.raises(UnconfirmedSubmissionError) as caught:
        await client.import_project_media(ImportMediaRequest(project_name="Mine"))
    assert caught.value.candidates == []
    assert [p.name for p in sandbox.world.projects.values()] == ["Theirs"]


async def test_a_lost_upload_import_is_cancelled_so_resubmitting_is_safe(
    client: DescriptClient, sandbox: Sandbox
) -> None:
    sandbox.faults.add(Fault("POST", "/jobs/import/project_media", status=500, when="after"))
    with pytest.raises(UploadURLsLostError, match="was cancelled") as caught:
        await client.import_project_media(
            ImportMediaRequest(
                project_name="Up",
                add_media={"a.wav": UploadMedia(content_type="audio/wav", file_size=10)},
            )
        )
    assert caught.value.cancelled
    assert (await client.get_job(caught.value.job.job_id)).job_state == "cancelled"


async def test_a_post_refused_with_429_is_retried_once_nothing_was_created(
    make_client, sandbox: Sandbox, media_url: str
) -> None:
    sandbox.faults.add(Fault("POST", "/jobs/import/project_media", status=429, retry_after=2))
    sleep = RecordingSleep()
    async with make_client(sleep=sleep) as client:
        created = await client.import_project_media(
            ImportMediaRequest(project_name="Later", add_media={"a.wav": UrlMedia(url=media_url)})
        )
    assert sleep.delays == [2.0]
    assert [r.status for r in sandbox.api_requests("POST", "/jobs/import")] == [429, 201]
    assert list(sandbox.world.jobs) == [created.job_id]


async def test_a_post_whose_connection_never_opened_is_retried(sandbox: Sandbox) -> None:
    flaky = FlakyTransport(httpx.ASGITransport(app=sandbox.app), [httpx.ConnectError("refused")])
    async with DescriptClient(
        sandbox.token,
        base_url="http://sandbox.test/v1",
        transport=flaky,
        retry=RetryPolicy(backoff_initial=0.001),
    ) as client:
        created = await client.import_project_media(ImportMediaRequest(project_name="Retry"))
    assert flaky.sent == 2
    assert list(sandbox.world.jobs) == [created.job_id]


async def test_a_post_that_may_have_arrived_is_never_retried(sandbox: Sandbox) -> None:
    flaky = FlakyTransport(httpx.ASGITransport(app=sandbox.app), [httpx.WriteError("cut")])
    async with DescriptClient(
        sandbox.token,
        base_url="http://sandbox.test/v1",
        transport=flaky,
        retry=RetryPolicy(recovery_delays=(0.0,)),
    ) as client:
        with pytest.raises(UnconfirmedSubmissionError) as caught:
            await client.import_project_media(ImportMediaRequest(project_name="Cut"))
    assert isinstance(caught.value.cause, APIConnectionError)
    assert sandbox.api_requests("POST") == []  # the only attempt never reached the sandbox


class FlakyTransport(httpx.AsyncBaseTransport):
    """Raises the given errors for the first requests; can also lose one answer after the
    server has handled the request (the ambiguous failure)."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        errors: list[Exception],
        lose_answer_of: str | None = None,
    ) -> None:
        self.inner, self.errors, self.lose_answer_of = inner, errors, lose_answer_of
        self.sent = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/") and request.url.path != "/v1/jobs":
            self.sent += 1
        if self.errors and request.url.path != "/v1/jobs":
            raise self.errors.pop(0)
        response = await self.inner.handle_async_request(request)
        if request.url.path == self.lose_answer_of:
            self.lose_answer_of = None
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("20", 20.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("inf", None),
        ("nan", None),
        (None, None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_retry_after_parsing(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_policy_never_retries_an_ambiguous_post_but_retries_the_same_get() -> None:
    error = ServerError(
        status_code=502, error_code=None, message="Bad gateway", method="POST", path="jobs/agent"
    )
    policy = RetryPolicy()
    assert retry_delay(policy, error, idempotent=False, attempt=1, elapsed=0) is None
    delay = retry_delay(policy, error, idempotent=True, attempt=1, elapsed=0)
    assert delay is not None
    assert policy.backoff_initial / 2 <= delay <= policy.backoff_initial
    assert (
        retry_delay(policy, error, idempotent=True, attempt=policy.max_attempts, elapsed=0) is None
    )


def test_a_429_without_retry_after_backs_off_from_a_second() -> None:
    """Not the quarter second a failure gets: a rate limit needs the pause."""
    error = RateLimitError(
        status_code=429, error_code=None, message="Slow down", method="GET", path="jobs"
    )
    policy = RetryPolicy(max_attempts=10, total_timeout=1000)
    delays = [
        retry_delay(policy, error, idempotent=True, attempt=n, elapsed=0) for n in range(1, 5)
    ]
    for delay, floor in zip(delays, [1.0, 2.0, 4.0, 8.0], strict=True):
        assert delay is not None
        assert floor <= delay <= floor * 1.25


async def test_polling_through_a_429_without_retry_after_backs_off_from_a_second(
    sandbox: Sandbox, imported_project
) -> None:
    created = await imported_project()
    sandbox.faults.add(Fault("GET", "/jobs/.+", status=429, times=2))
    sleep = RecordingSleep()
    async with DescriptClient(
        sandbox.token,
        base_url="http://sandbox.test/v1",
        transport=httpx.ASGITransport(app=sandbox.app),
        retry=NO_RETRIES,
    ) as client:
        job = await wait_for_job(client, created.job_id, sleep=sleep)
    assert job.is_terminal
    assert len(sleep.delays) == 2
    assert 1.0 <= sleep.delays[0] <= 1.25
    assert 2.0 <= sleep.delays[1] <= 2.5
