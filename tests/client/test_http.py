"""What goes on the wire: auth, user agent, query encoding, and signed URLs without the token."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from descript_mcp import DEFAULT_API_URL, DescriptClient, __version__
from descript_mcp.errors import InvalidIdError

pytestmark = pytest.mark.anyio


class Capture:
    def __init__(self, answer: httpx.Response) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer


async def test_api_requests_carry_the_token_and_user_agent() -> None:
    capture = Capture(httpx.Response(200, json={"data": [], "pagination": {}, "results": []}))
    async with DescriptClient(
        "tok", base_url="https://api.example/v1/", transport=httpx.MockTransport(capture)
    ) as client:
        await client.list_jobs_page(
            type="agent", created_after=datetime(2026, 1, 2, tzinfo=UTC), limit=5
        )
        await client.search("intro", types=["project", "audio"])
    jobs, search = capture.requests
    assert jobs.headers["authorization"] == "Bearer tok"
    assert jobs.headers["user-agent"].startswith(f"descript-mcp/{__version__}")
    assert str(jobs.url) == (
        "https://api.example/v1/jobs?type=agent&created_after=2026-01-02T00%3A00%3A00Z&limit=5"
    )
    assert search.url.params.get_list("type") == ["project", "audio"]


async def test_signed_urls_never_receive_the_token() -> None:
    capture = Capture(httpx.Response(200))
    async with DescriptClient("tok", transport=httpx.MockTransport(capture)) as client:
        await client.signed.upload("https://storage.example/up?sig=1", b"abc", size=3)
        [chunk async for chunk in client.signed.stream_download("https://storage.example/f?sig=2")]
    upload, download = capture.requests
    for request in (upload, download):
        assert "authorization" not in request.headers
    assert upload.method == "PUT"
    assert upload.headers["content-type"] == "application/octet-stream"
    assert upload.headers["content-length"] == "3"


async def test_token_and_url_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    capture = Capture(
        httpx.Response(200, json={"drive_id": None, "drive_name": None, "api_version": "1.2"})
    )
    monkeypatch.setenv("DESCRIPT_API_KEY", "from-env")
    monkeypatch.setenv("DESCRIPT_API_URL", "http://127.0.0.1:8765/v1")
    async with DescriptClient(transport=httpx.MockTransport(capture)) as client:
        await client.get_status()
    assert str(capture.requests[0].url) == "http://127.0.0.1:8765/v1/status"
    assert capture.requests[0].headers["authorization"] == "Bearer from-env"
    monkeypatch.delenv("DESCRIPT_API_URL")
    async with DescriptClient() as client:
        assert client.base_url == DEFAULT_API_URL


async def test_ids_are_escaped_into_the_path_and_never_name_another_route() -> None:
    capture = Capture(httpx.Response(204))
    async with DescriptClient(
        "tok", base_url="https://api.example/v1", transport=httpx.MockTransport(capture)
    ) as client:
        await client.cancel_job("job:a+b")
        for route in ("../projects/x", ".", "..", "x" * 201):
            with pytest.raises(InvalidIdError):
                await client.cancel_job(route)
    assert [r.url.raw_path for r in capture.requests] == [b"/v1/jobs/job%3Aa%2Bb"]


async def test_clients_share_one_tls_context() -> None:
    """Loading the CA bundle costs about 100 ms; an HTTP server makes a client per user token.
    (Reads httpx's connection pool: the one place the context can be seen.)"""
    async with DescriptClient("alice") as alice, DescriptClient("bob") as bob:
        contexts = {
            id(http._transport._pool._ssl_context)  # type: ignore[attr-defined]
            for http in (alice._http, alice.signed._http, bob._http, bob.signed._http)
        }
    assert len(contexts) == 1
