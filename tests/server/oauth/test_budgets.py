"""No stranger can keep others from connecting: sign-ins, registrations and the tokens tried on
the connect page are budgeted per address, per client and per sign-in, before anything is
asked of Descript, and the budgets are the same on every replica. Attackers and people are
HTTP clients at addresses of their own (127.0.0.2, 127.0.0.3, … are this machine too); what
reaches Descript is read from the sandbox's own request log."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from descript_mcp.history.budgets import Budget
from descript_mcp.sandbox import Sandbox
from tests.postgres import ThrowawayPostgres
from tests.server.oauth.conftest import App, Hosted, Person, http_from, pkce, refusal
from tests.server.test_cluster import balancer

pytestmark = pytest.mark.anyio

ATTACKER, PERSON, NEIGHBOUR = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def checks_upstream(sandbox: Sandbox) -> int:
    """Tokens Descript was asked about (GET /status)."""
    return len(sandbox.api_requests("GET", "/status"))


def limit(hosted: Hosted, **budgets: Any) -> None:
    oauth = hosted.server.oauth
    assert oauth is not None
    oauth.limits = replace(oauth.limits, **budgets)


async def register(
    origin: str, http: httpx.AsyncClient, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"}
    return await http.post(f"{origin}/register", json=body, headers=headers)


async def test_one_address_cannot_use_up_everyones_sign_ins(
    hosted: Hosted, sandbox: Sandbox
) -> None:
    async with http_from(ATTACKER) as attacker, http_from(PERSON) as http:
        app = App(hosted, attacker, redirect_uri="https://app.example/cb")
        await app.register()
        _, challenge = pkce()
        opened = [await attacker.get(app.authorize_url(challenge)) for _ in range(61)]
        assert {a.status_code for a in opened[:60]} == {302}
        assert opened[60].status_code == 429
        assert refusal(opened[60]) == "temporarily_unavailable"
        assert "from your network" in opened[60].text
        assert int(opened[60].headers["retry-after"]) > 0
        # Someone else, elsewhere, signs in with the same app meanwhile.
        person = Person(sandbox.token, PERSON)
        tokens = await App(hosted, http, app.client_id, app.redirect_uri).tokens_for(person)
        assert tokens["access_token"]
        await person.aclose()


async def test_new_registrations_do_not_reset_the_token_checks_of_an_address(
    hosted: Hosted, sandbox: Sandbox
) -> None:
    before = checks_upstream(sandbox)
    statuses = []
    async with http_from(ATTACKER) as http:
        for _ in range(7):  # a fresh client, a fresh sign-in, five guesses each
            app = App(hosted, http)
            await app.register()
            guesser = Person("guess", ATTACKER)
            page = await guesser.open(app.authorize_url(pkce()[1]))
            for guess in range(5):
                answer = await guesser.post(page, action="check", token=f"guess-{guess}")
                statuses.append(answer.status_code)
            await guesser.aclose()
    assert statuses.count(400) == 30  # the address's budget: 30 in 15 minutes
    assert statuses[30:] == [429] * 5
    assert checks_upstream(sandbox) - before == 30
    assert "Try again in 15 minute(s)" in guesser.pages[-1].text
    async with http_from(PERSON) as http:
        person = Person(sandbox.token, PERSON)
        app = App(hosted, http)
        await app.register()
        assert (await app.tokens_for(person))["access_token"]
        await person.aclose()


async def test_one_persons_mistakes_lock_out_nobody_else(hosted: Hosted, sandbox: Sandbox) -> None:
    # One client id for everyone, as all users of an app share its metadata document's.
    async with http_from(PERSON) as http:
        app = App(hosted, http)
        await app.register()
        clumsy = Person(sandbox.token, PERSON)
        page = await clumsy.open(app.authorize_url(pkce()[1]))
        answers = [await clumsy.post(page, action="check", token="typo") for _ in range(6)]
        assert [a.status_code for a in answers] == [400] * 5 + [429]
        assert "Go back to your app and connect again" in answers[-1].text
        # Behind the same address (a home, an office), and elsewhere: both connect.
        for other in (Person(sandbox.token, PERSON), Person(sandbox.token, NEIGHBOUR)):
            assert (await app.tokens_for(other))["access_token"]
            await other.aclose()
        # And the clumsy one, starting again.
        assert (await app.tokens_for(clumsy))["access_token"]
        await clumsy.aclose()


async def test_simultaneous_tries_get_no_more_than_the_budget_through(
    hosted: Hosted, sandbox: Sandbox
) -> None:
    limit(hosted, checks_per_address=Budget("check/address", 8, 900.0))
    async with http_from(ATTACKER) as http:
        app = App(hosted, http)
        await app.register()
        guesser = Person("guess", ATTACKER)
        page = await guesser.open(app.authorize_url(pkce()[1]))
        before = checks_upstream(sandbox)
        statuses: list[int] = []

        async def guess(number: int) -> None:
            statuses.append(
                (await guesser.post(page, action="check", token=f"g{number}")).status_code
            )

        async with anyio.create_task_group() as group:
            for number in range(32):  # one sign-in, 32 tries at once
                group.start_soon(guess, number)
        assert sorted(statuses) == [400] * 5 + [429] * 27
        assert checks_upstream(sandbox) - before == 5

        guessers = [Person("guess", ATTACKER) for _ in range(32)]
        pages = [await g.open(app.authorize_url(pkce()[1])) for g in guessers]
        statuses.clear()
        before = checks_upstream(sandbox)

        async def one_each(each: Person, opened: httpx.Response) -> None:
            statuses.append((await each.post(opened, action="check", token="g")).status_code)

        async with anyio.create_task_group() as group:
            for each, opened in zip(guessers, pages, strict=True):
                group.start_soon(one_each, each, opened)  # 32 sign-ins of one address at once
        assert statuses.count(400) == 3  # what was left of the address's 8
        assert checks_upstream(sandbox) - before == 3
        for each in [guesser, *guessers]:
            await each.aclose()


@pytest.fixture
def shared_database(postgres: ThrowawayPostgres | None) -> str:
    if postgres is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    return postgres.new_database()


async def test_the_budgets_are_the_same_on_every_replica(
    host_oauth: Callable[..., Any], shared_database: str
) -> None:
    async with (
        host_oauth(database_url=shared_database) as first,
        host_oauth(database_url=shared_database) as second,
        http_from(ATTACKER) as http,
    ):
        answers = [
            await register(replica.origin, http) for _ in range(11) for replica in (first, second)
        ]
        assert [a.status_code for a in answers] == [201] * 20 + [429] * 2
        assert answers[-1].json()["error"] == "temporarily_unavailable"
        async with http_from(PERSON) as elsewhere:
            assert (await register(second.origin, elsewhere)).status_code == 201


async def test_a_forwarded_address_is_believed_from_a_trusted_proxy_only(
    host_oauth: Callable[..., Any],
) -> None:
    async with host_oauth(trusted_proxies=["127.0.0.1"]) as hosted:
        limit(hosted, registrations_per_address=Budget("register/address", 2, 3600.0))
        async with http_from(ATTACKER) as stranger:
            # A stranger's own X-Forwarded-For is not believed: each is still its address.
            spent = [
                await register(
                    hosted.origin, stranger, headers={"X-Forwarded-For": f"203.0.113.{n}"}
                )
                for n in range(3)
            ]
            assert [a.status_code for a in spent] == [201, 201, 429]
        async with http_from("127.0.0.1") as proxy:
            for client in ("198.51.100.1", "198.51.100.2"):
                # The proxy appended the address it was reached from; left of it, a made-up one.
                forwarded = {"X-Forwarded-For": f"203.0.113.7, {client}"}
                answers = [
                    await register(hosted.origin, proxy, headers=forwarded) for _ in range(3)
                ]
                assert [a.status_code for a in answers] == [201, 201, 429], client


@pytest.fixture
def haproxy() -> None:
    if shutil.which("haproxy") is None:
        if os.environ.get("DESCRIPT_MCP_REQUIRE_POSTGRES"):
            pytest.fail("HAProxy is required and not installed (apt-get install haproxy)")
        pytest.skip("HAProxy is not installed (apt-get install haproxy)")


@pytest.mark.usefixtures("haproxy")
async def test_the_shipped_haproxy_passes_each_clients_address(
    host_oauth: Callable[..., Any], tmp_path: Path
) -> None:
    async with host_oauth(trusted_proxies=["127.0.0.1"]) as hosted:
        limit(hosted, registrations_per_address=Budget("register/address", 2, 3600.0))
        with balancer([hosted.settings.port], tmp_path) as port:
            front = f"http://127.0.0.1:{port}"
            async with http_from(ATTACKER) as attacker, http_from(PERSON) as person:
                made_up = {"X-Forwarded-For": "203.0.113.9"}  # HAProxy appends the truth
                spent = [await register(front, attacker, headers=made_up) for _ in range(3)]
                assert [a.status_code for a in spent] == [201, 201, 429]
                assert (await register(front, person)).status_code == 201
