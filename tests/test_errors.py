"""Every error status reaches the caller as its own exception class, with Descript's words."""

from __future__ import annotations

import httpx
import pytest

from descript_mcp import (
    NO_RETRIES,
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    DescriptClient,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PublishInProgressError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
    UnprocessableEntityError,
)
from descript_mcp.client.models import (
    AgentEditRequest,
    ImportMediaRequest,
    PublishRequest,
    UrlMedia,
)
from descript_mcp.errors import error_class_for
from descript_mcp.sandbox import OTHER_DRIVE_TOKEN, Fault, Sandbox

pytestmark = pytest.mark.anyio


async def test_no_token_is_a_configuration_error_before_any_request(
    make_client, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DESCRIPT_API_KEY", raising=False)
    async with make_client(token=None) as client:
        with pytest.raises(ConfigurationError, match="DESCRIPT_API_KEY"):
            await client.get_status()
    assert sandbox.requests == []


async def test_401_for_an_unknown_token(make_client) -> None:
    async with make_client(token="not-a-real-token") as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.get_status()
    assert caught.value.status_code == 401
    assert caught.value.error_code == "unauthorized"
    assert caught.value.message == "Missing or invalid authentication token"
    assert "not-a-real-token" not in str(caught.value)


async def test_400_carries_descripts_message(client: DescriptClient) -> None:
    with pytest.raises(BadRequestError) as caught:
        await client.get_project("not-a-uuid")
    assert (caught.value.error_code, caught.value.message) == (
        "invalid_input",
        "Invalid project_id format",
    )


async def test_400_for_an_unknown_model_lists_the_allowed_ones(
    client: DescriptClient, imported_project
) -> None:
    created = await imported_project()
    with pytest.raises(BadRequestError, match="must be one of") as caught:
        await client.agent_edit(
            AgentEditRequest(project_id=created.project_id, prompt="Go", model="no-such-model")
        )
    assert "claude-opus" in caught.value.message


async def test_402_names_the_short_balance(
    client: DescriptClient, sandbox: Sandbox, media_url: str, imported_project
) -> None:
    created = await imported_project()
    drive = sandbox.world.drives[sandbox.config.drives[0].id]
    drive.media_minutes, drive.ai_credits = 0.5, 0.2
    with pytest.raises(PaymentRequiredError, match=r"media minutes .*1 minutes required"):
        await client.import_project_media(
            ImportMediaRequest(project_name="Broke", add_media={"a.wav": UrlMedia(url=media_url)})
        )
    with pytest.raises(PaymentRequiredError, match=r"AI credits .*3 credits required, 0 avail"):
        await client.agent_edit(AgentEditRequest(project_id=created.project_id, prompt="Edit"))


async def test_403_for_a_project_on_another_drive(make_client, imported_project) -> None:
    created = await imported_project()
    async with make_client(token=OTHER_DRIVE_TOKEN) as other:
        with pytest.raises(PermissionDeniedError) as caught:
            await other.get_project(created.project_id)
        with pytest.raises(PermissionDeniedError, match="access to this job"):
            await other.get_job(created.job_id)
    assert caught.value.error_code == "forbidden"


async def test_403_when_the_admin_disabled_the_agent(
    client: DescriptClient, sandbox: Sandbox, imported_project
) -> None:
    created = await imported_project()
    sandbox.config.drives[0].agent_enabled = False
    with pytest.raises(PermissionDeniedError, match="disabled by your admin"):
        await client.agent_edit(AgentEditRequest(project_id=created.project_id, prompt="Edit"))


async def test_404_for_a_missing_job_and_when_search_is_off(
    client: DescriptClient, sandbox: Sandbox
) -> None:
    with pytest.raises(NotFoundError, match='No job found for job_id "project-media-import-x"'):
        await client.get_job("project-media-import-x")
    sandbox.config.drives[0].search_enabled = False
    with pytest.raises(NotFoundError, match="Search is not enabled"):
        await client.search("anything")


async def test_409_while_a_published_project_is_processing(
    client: DescriptClient, sandbox: Sandbox, imported_project
) -> None:
    created = await imported_project()
    sandbox.config.timings.publish = 30.0
    await client.publish(PublishRequest(project_id=created.project_id))
    slug = next(iter(sandbox.world.publishes))
    with pytest.raises(ConflictError) as caught:
        await client.get_published_project(slug)
    assert caught.value.state == "processing"


async def test_422_publishing_audio_only_as_video(client: DescriptClient, imported_project) -> None:
    created = await imported_project()
    with pytest.raises(UnprocessableEntityError, match='Retry with media_type "Audio"'):
        await client.publish(PublishRequest(project_id=created.project_id, media_type="Video"))


async def test_429_one_publish_per_project(
    client: DescriptClient, sandbox: Sandbox, imported_project
) -> None:
    created = await imported_project()
    sandbox.config.timings.publish = 30.0
    await client.publish(PublishRequest(project_id=created.project_id))
    with pytest.raises(PublishInProgressError) as caught:
        await client.publish(PublishRequest(project_id=created.project_id))
    assert caught.value.error_code == "rate_limited"
    assert len(sandbox.api_requests("POST", "/jobs/publish")) == 2  # refused, not retried


async def test_429_carries_retry_after_and_rate_limit_headers(
    make_client, sandbox: Sandbox
) -> None:
    sandbox.config.rate_limit_requests = 2
    async with make_client(retry=NO_RETRIES) as client:
        await client.get_status()
        await client.get_status()
        with pytest.raises(RateLimitError) as caught:
            await client.get_status()
    error = caught.value
    assert error.error_code == "rate_limit_exceeded"
    assert error.retry_after is not None
    assert 1 <= error.retry_after <= 60
    assert (error.rate_limit_remaining, error.rate_limit_consumed) == (0, 2)


async def test_5xx_after_retries_is_a_server_error(make_client, sandbox: Sandbox) -> None:
    sandbox.faults.add(Fault("GET", "/status", status=503, times=10))
    async with make_client() as client:
        with pytest.raises(ServerError) as caught:
            await client.get_status()
    assert caught.value.status_code == 503
    assert len(sandbox.api_requests("GET", "/status")) == 4  # the policy's max_attempts


def _failing(exc: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


async def test_transport_errors_say_whether_the_request_left() -> None:
    refused = DescriptClient(
        "t",
        base_url="http://x/v1",
        retry=NO_RETRIES,
        transport=_failing(httpx.ConnectError("refused")),
    )
    with pytest.raises(APIConnectionError) as caught:
        await refused.get_status()
    assert caught.value.may_have_reached_server is False

    slow = DescriptClient(
        "t", base_url="http://x/v1", retry=NO_RETRIES, transport=_failing(httpx.ReadTimeout("slow"))
    )
    with pytest.raises(APITimeoutError) as timed_out:
        await slow.get_status()
    assert timed_out.value.may_have_reached_server is True


async def test_a_2xx_body_of_the_wrong_shape_is_a_format_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"job": 1}))
    async with DescriptClient("t", base_url="http://x/v1", transport=transport) as client:
        with pytest.raises(ResponseFormatError, match="documented shape"):
            await client.get_job("job-1")


async def test_requests_refuse_unknown_fields_before_sending() -> None:
    with pytest.raises(ValueError, match="fps"):
        ImportMediaRequest.model_validate(
            {"project_name": "x", "add_compositions": [{"clips": [], "fps": 30}]}
        )
    with pytest.raises(ValueError, match="exactly one of project_id"):
        AgentEditRequest(prompt="Edit")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("rate_limited", "Please wait."),
        (
            "rate_limit_exceeded",
            "A publish job is already running for this project. Please wait for it to complete.",
        ),
        (None, "A publish is already running for this project"),
    ],
)
def test_the_publish_lock_is_known_by_its_code_or_its_message(
    code: str | None, message: str
) -> None:
    """Were Descript to change the code, the lock must not become "retry later"."""
    assert error_class_for(429, code, message) is PublishInProgressError


def test_a_plain_rate_limit_is_not_the_publish_lock() -> None:
    assert error_class_for(429, "rate_limit_exceeded", "Rate limit exceeded") is RateLimitError


async def test_an_older_drive_status_and_odd_publish_records_are_read() -> None:
    bodies = {
        "/v1/status": {"status": "ok"},
        "/v1/projects/p": {
            "id": "p",
            "name": "P",
            "drive_id": "d",
            "created_at": "2026-11-01T00:00:00Z",
            "updated_at": "2026-11-01T00:00:00Z",
            "publishes": [{"share_url": "https://share.descript.com/view/x", "name": None}],
        },
    }
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=bodies[r.url.path]))
    async with DescriptClient("t", base_url="http://x/v1", transport=transport) as client:
        status = await client.get_status()
        project = await client.get_project("p")
    assert (status.status, status.drive_id) == ("ok", None)
    assert project.publishes[0].name is None
