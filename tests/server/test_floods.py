"""What a stranger on the open internet floods, and what must hold: sessions reserved before
they open (exactly the bound under 700 at once), a server-wide bound that twenty tokens cannot
fill, made-up tokens checked with Descript at a bounded rate per address, and 2026-07-28 listen
streams bounded in what they name and how many a token holds, counted as sessions."""

from __future__ import annotations

import secrets
from collections import Counter
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, MCPError

from bench._sandbox import http_server, sandbox_process
from bench.subscriptions import listen_round, rss_mib
from descript_mcp.sandbox import DEFAULT_TOKEN, OTHER_DRIVE_TOKEN, Sandbox
from descript_mcp.server.http import gate, tokens
from descript_mcp.server.http.gate import SESSIONS_PER_TOKEN, Full, SessionBook
from descript_mcp.server.http.limits import client_address
from descript_mcp.server.http.run import http_app
from descript_mcp.server.notify import STREAMS_PER_TOKEN, URIS_PER_STREAM, Notifier
from descript_mcp.settings import Settings
from tests.server.conftest import import_sample
from tests.server.test_hardening import ACCEPT, INITIALIZE, serve_http
from tests.waiting import eventually

pytestmark = pytest.mark.anyio

__all__ = ["serve_http"]  # the fixture, shared


def _bearer(token: str) -> dict[str, str]:
    return ACCEPT | {"Authorization": f"Bearer {token}"}


async def test_700_initializes_at_once_open_exactly_the_tokens_bound(serve_http) -> None:
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=0)
    statuses: Counter[int] = Counter()
    async with (
        serve_http() as served,
        httpx2.AsyncClient(timeout=60, limits=limits) as http,
    ):
        await http.post(served.url, json={}, headers=_bearer(DEFAULT_TOKEN))  # token confirmed

        async def initialize() -> None:
            answer = await http.post(served.url, json=INITIALIZE, headers=_bearer(DEFAULT_TOKEN))
            statuses[answer.status_code] += 1

        async with anyio.create_task_group() as flood:
            for _ in range(700):
                flood.start_soon(initialize)
    assert statuses == {200: SESSIONS_PER_TOKEN, 429: 700 - SESSIONS_PER_TOKEN}


async def test_the_servers_bound_says_what_to_do_and_frees_with_a_session(
    serve_http, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate, "SESSIONS_PER_TOKEN", 2)
    async with serve_http(max_sessions=3) as served, httpx2.AsyncClient(timeout=10) as http:
        alice = [
            await http.post(served.url, json=INITIALIZE, headers=_bearer(DEFAULT_TOKEN))
            for _ in range(2)
        ]
        bob = await http.post(served.url, json=INITIALIZE, headers=_bearer(OTHER_DRIVE_TOKEN))
        full = await http.post(served.url, json=INITIALIZE, headers=_bearer(OTHER_DRIVE_TOKEN))
        ended = await http.delete(
            served.url,
            headers=_bearer(DEFAULT_TOKEN)
            | {
                "Mcp-Session-Id": alice[0].headers["mcp-session-id"],
                "Mcp-Protocol-Version": "2025-11-25",
            },
        )
        again = await http.post(served.url, json=INITIALIZE, headers=_bearer(OTHER_DRIVE_TOKEN))
    assert [a.status_code for a in alice] == [200, 200]
    assert bob.status_code == 200
    assert full.status_code == 503
    assert full.headers["retry-after"] == "60"
    assert full.json()["error"] == "server_full"
    message = full.json()["message"]
    assert "Retry in a minute" in message
    assert "DESCRIPT_MCP_MAX_SESSIONS" in message
    assert ended.status_code < 400
    assert again.status_code == 200


def test_twenty_tokens_at_their_bound_leave_room_for_the_next_person() -> None:
    book = SessionBook(Settings().max_sessions)
    for person in range(20):
        for number in range(SESSIONS_PER_TOKEN):
            key = book.reserve(f"owner-{person}")
            assert isinstance(key, str)
            book.opened(f"owner-{person}", key, f"session-{person}-{number}")
        refused = book.reserve(f"owner-{person}")
        assert isinstance(refused, Full)
        assert refused.status == 429
    assert book.held() == 20 * SESSIONS_PER_TOKEN
    assert isinstance(book.reserve("the-next-person"), str)


def test_a_book_forgets_owners_whose_sessions_ended() -> None:
    book = SessionBook(10)
    keys = [book.reserve(f"owner-{n}") for n in range(10)]
    assert isinstance(book.reserve("one-more"), Full)
    for n, key in enumerate(keys):
        assert isinstance(key, str)
        book.release(f"owner-{n}", key)
    assert book.held() == 0
    assert book._owners == {}  # nothing kept for those who left


async def test_made_up_tokens_reach_descript_at_a_bounded_rate_per_address(
    serve_http, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "UNKNOWN_TOKEN_EVERY", 3600.0)  # no refill while it runs
    monkeypatch.setattr(tokens, "CONFIRMED_FOR", 0.0)  # a known token is asked again each time
    made_up = [f"made-up-{secrets.token_hex(8)}" for _ in range(200)]
    async with serve_http() as served, httpx2.AsyncClient(timeout=30) as http:
        known = await http.post(served.url, json=INITIALIZE, headers=_bearer(DEFAULT_TOKEN))
        answers = []

        async def one(token: str) -> None:
            answers.append(await http.post(served.url, json=INITIALIZE, headers=_bearer(token)))

        async with anyio.create_task_group() as flood:
            for token in made_up:
                flood.start_soon(one, token)
        asked_again = await http.post(served.url, json=INITIALIZE, headers=_bearer(made_up[0]))
        still_known = await http.post(served.url, json=INITIALIZE, headers=_bearer(DEFAULT_TOKEN))
        newcomer = await http.post(served.url, json=INITIALIZE, headers=_bearer(OTHER_DRIVE_TOKEN))
    asked = [r for r in sandbox.requests if r.path == "/status" and r.token in made_up]
    budget = tokens.UNKNOWN_TOKENS_BURST - 1  # the known token's first check spent one
    assert len(asked) == budget  # not 200
    assert Counter(a.status_code for a in answers) == {401: budget, 429: 200 - budget}
    throttled = next(a for a in answers if a.status_code == 429)
    assert int(throttled.headers["retry-after"]) > 0
    assert "Retry in" in throttled.json()["message"]
    assert asked_again.status_code in (401, 429)
    assert len([r for r in sandbox.requests if r.token in made_up]) == budget  # remembered
    assert known.status_code == still_known.status_code == 200  # a valid token is never held up
    assert newcomer.status_code == 429  # a token never seen waits with the address's strangers


async def test_each_address_has_its_own_budget_and_an_ipv6_host_its_64(
    make_server, settings: Settings, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "UNKNOWN_TOKEN_EVERY", 3600.0)
    server = make_server()
    app = http_app(server, settings.model_copy(update={"transport": "http"}))

    async def made_up_from(address: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            token = f"made-up-{secrets.token_hex(8)}"
            return (await http.post("/mcp", json=INITIALIZE, headers=_bearer(token))).status_code

    first = [await made_up_from("2001:db8::1") for _ in range(tokens.UNKNOWN_TOKENS_BURST)]
    neighbour = await made_up_from("2001:db8::2")  # the same /64: the same host
    elsewhere = await made_up_from("2001:db8:0:1::1")
    other_ipv4 = await made_up_from("198.51.100.7")
    assert first == [401] * tokens.UNKNOWN_TOKENS_BURST
    assert (neighbour, elsewhere, other_ipv4) == (429, 401, 401)


def test_client_addresses_are_counted_by_host() -> None:
    assert client_address({"client": ("203.0.113.9", 1)}) == "203.0.113.9"
    assert client_address({"client": ("::ffff:203.0.113.9", 1)}) == "203.0.113.9"
    assert client_address({"client": ("2001:db8:1:2:3:4:5:6", 1)}) == "2001:db8:1:2::/64"
    assert client_address({"client": None}) == "unknown"


async def test_a_listen_stream_names_only_the_callers_own_jobs_and_a_bounded_number(
    make_server, sandbox: Sandbox
) -> None:
    server = make_server()
    async with Client(server, mode="auto") as mcp:
        mine = await import_sample(mcp)
        refusals = []
        for named in (
            [f"descript://jobs/{n}" for n in range(URIS_PER_STREAM + 1)],
            ["descript://jobs/someone-elses"],
            ["descript://projects/p"],
            ["x" * 10_000],
        ):
            with pytest.raises(MCPError) as refused:
                async with mcp.listen(resource_subscriptions=named):
                    pass
            refusals.append(str(refused.value))
        async with mcp.listen(
            resource_subscriptions=["descript://jobs", f"descript://jobs/{mine['job_id']}"]
        ) as stream:
            assert set(stream.honored.resource_subscriptions or ()) == {
                "descript://jobs",
                f"descript://jobs/{mine['job_id']}",
            }
    assert f"may name {URIS_PER_STREAM} resources" in refusals[0]
    assert "of a job in your history" in refusals[1]
    assert "of a job in your history" in refusals[2]
    assert "too long" in refusals[3]


async def test_a_token_holds_a_few_listen_streams_and_they_go_when_closed(make_server) -> None:
    server = make_server()
    async with Client(server, mode="auto") as mcp:
        for _ in range(2):  # the bound holds again once the streams closed
            opened = 0
            stop = anyio.Event()

            async def listen(ready: anyio.Event, stop: anyio.Event = stop) -> None:
                nonlocal opened
                async with mcp.listen(resource_subscriptions=["descript://jobs"]):
                    opened += 1
                    ready.set()
                    await stop.wait()

            async with anyio.create_task_group() as streams:
                for _ in range(STREAMS_PER_TOKEN):
                    ready = anyio.Event()
                    streams.start_soon(listen, ready)
                    await ready.wait()
                assert server.notifier.streams() == STREAMS_PER_TOKEN
                with pytest.raises(MCPError, match=f"has {STREAMS_PER_TOKEN} listen streams"):
                    async with mcp.listen(resource_subscriptions=["descript://jobs"]):
                        pass
                stop.set()
            assert opened == STREAMS_PER_TOKEN
            await _closed(server.notifier)


async def _closed(notifier: Notifier) -> None:
    """Until the server has seen every listen stream end (the client closed them)."""
    await eventually(lambda: notifier.streams() == 0, "every listen stream ended on the server")


async def test_over_http_a_listen_stream_is_one_of_the_tokens_sessions(
    serve_http, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gate, "SESSIONS_PER_TOKEN", 2)
    async with (
        serve_http() as served,
        served.client(DEFAULT_TOKEN, mode="auto") as mcp,
        httpx2.AsyncClient(timeout=10) as http,
    ):
        first = await http.post(served.url, json=INITIALIZE, headers=_bearer(DEFAULT_TOKEN))
        async with mcp.listen(resource_subscriptions=["descript://jobs"]):
            full = await http.post(served.url, json=INITIALIZE, headers=_bearer(DEFAULT_TOKEN))
            with pytest.raises(MCPError, match="This token has 2 sessions open"):
                async with mcp.listen(resource_subscriptions=["descript://jobs"]):
                    pass
        await _closed(served.server.notifier)
        room = await http.post(served.url, json=INITIALIZE, headers=_bearer(DEFAULT_TOKEN))
    assert first.status_code == 200
    assert full.status_code == 429
    assert room.status_code == 200  # the stream's place was given back when it closed


async def test_listen_streams_naming_many_uris_leave_the_servers_memory_as_it_was(
    tmp_path: Path,
) -> None:
    """The attack that grew an earlier server by 147 MiB for ten streams, for good: each named
    95,000 made-up URIs. Measured on a server process of its own, as bench/subscriptions.py does."""
    with sandbox_process() as api, http_server(api, tmp_path, {}) as (port, process):
        url = f"http://127.0.0.1:{port}/mcp"
        await listen_round(url, attempts=2, held=STREAMS_PER_TOKEN)  # warm-up: what is normal
        baseline = rss_mib(process.pid)
        refused, held = await listen_round(url, attempts=10, held=STREAMS_PER_TOKEN + 2)
        after = rss_mib(process.pid)
    assert refused == 10
    assert held == STREAMS_PER_TOKEN  # the two more were refused
    assert after - baseline < 32, f"{baseline:.0f} MiB before, {after:.0f} MiB after"
