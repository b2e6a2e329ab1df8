"""What anyone can make the server store is bounded: a registration's fields, a sign-in's
parameters, and every table the anonymous requests write, flooded here from many addresses
until the budgets refuse, then measured in rows and bytes; clients that never sign in expire."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from descript_mcp.history.budgets import Budget
from descript_mcp.history.grant_store import GrantStore
from descript_mcp.sandbox import Sandbox
from tests.server.oauth.conftest import App, Hosted, Person, pkce, refusal

pytestmark = pytest.mark.anyio

# What each table the anonymous requests write holds: (table, its variable-length columns).
ANONYMOUS_TABLES = {
    "oauth_clients": "length(client_id) + length(info_json) + coalesce(length(sealed_secret), 0)",
    "oauth_sign_ins": "length(request_id) + length(client_id) + length(params_json) + "
    "length(csrf) + coalesce(length(browser), 0)",
    "budget_spends": "length(kind) + length(key) + 8",
}


def measure(history: Path) -> dict[str, tuple[int, int]]:
    """Rows and bytes of content of each table the anonymous requests write."""
    with sqlite3.connect(history) as db:
        return {
            table: db.execute(f"SELECT count(*), coalesce(sum({size}), 0) FROM {table}").fetchone()
            for table, size in ANONYMOUS_TABLES.items()
        }


# What the refusals of registrations say.
WHY = ("at most", "not allowed", "control characters")


async def register(hosted: Hosted, http: httpx.AsyncClient, **metadata: Any) -> httpx.Response:
    body = {"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "none"}
    return await http.post(f"{hosted.origin}/register", json=body | metadata)


async def test_a_registration_is_small_and_sends_browsers_only_somewhere_safe(app: App) -> None:
    hosted = app.hosted
    huge = await register(hosted, app.http, client_name="x" * 900_000)
    assert huge.status_code == 413
    many = await register(
        hosted, app.http, redirect_uris=[f"https://a.example/{n}" for n in range(10_000)]
    )
    assert many.status_code == 413
    refused = {
        "a name too long": {"client_name": "x" * 101},
        "a name with escapes": {"client_name": "Evil\x1b]0;owned\x07"},
        "too many redirect URIs": {"redirect_uris": [f"https://a.example/{n}" for n in range(11)]},
        "a redirect URI too long": {"redirect_uris": ["https://a.example/" + "x" * 500]},
        "javascript:": {"redirect_uris": ["javascript:alert(document.domain)//"]},
        "data:": {"redirect_uris": ["data:text/html,<script>alert(1)</script>"]},
        "vbscript:": {"redirect_uris": ["vbscript:msgbox(1)"]},
        "file:": {"redirect_uris": ["file:///etc/passwd"]},
        "http off loopback": {"redirect_uris": ["http://example.com/cb"]},
        "a fragment": {"redirect_uris": ["https://a.example/cb#x"]},
        "credentials": {"redirect_uris": ["https://user@a.example/cb"]},
    }
    for why, metadata in refused.items():
        answer = await register(hosted, app.http, **metadata)
        assert answer.status_code == 400, why
        error = answer.json()
        assert error["error"] in ("invalid_client_metadata", "invalid_redirect_uri"), why
        assert any(word in error["error_description"] for word in WHY), (why, error)
    accepted = [
        "https://claude.ai/api/mcp/auth_callback",
        "http://127.0.0.1:33418/callback",
        "http://[::1]:8080/cb",
        "cursor://anysphere.cursor-retrieval/oauth/callback",
        "com.example.app:/oauth2redirect",
    ]
    answer = await register(hosted, app.http, client_name="Claude", redirect_uris=accepted)
    assert answer.status_code == 201, answer.text
    assert measure(hosted.settings.history_path)["oauth_clients"][0] == 1


async def test_a_sign_in_keeps_only_bounded_parameters(app: App) -> None:
    await app.register(redirect_uris=["https://app.example/cb"])
    app.redirect_uri = "https://app.example/cb"
    _, challenge = pkce()
    form = {"response_type": "code", "client_id": app.client_id, "code_challenge": challenge}
    huge = await app.http.post(
        f"{app.hosted.origin}/authorize", data=form | {"state": "s" * 60_000}
    )
    assert huge.status_code == 413
    for too_long in ({"state": "s" * 1_001}, {"scope": "s" * 501}, {"code_challenge": "c" * 44}):
        answer = await app.http.get(app.authorize_url(challenge, **too_long))
        assert answer.status_code == 400
        assert refusal(answer) == "invalid_request"
    twice = app.authorize_url(challenge) + "&state=again"
    assert "more than once" in (await app.http.get(twice)).text
    assert measure(app.hosted.settings.history_path)["oauth_sign_ins"][0] == 0
    kept = await app.http.get(app.authorize_url(challenge, state="s" * 1_000))
    assert kept.status_code == 302
    assert measure(app.hosted.settings.history_path)["oauth_sign_ins"][0] == 1


async def test_a_flood_from_many_addresses_leaves_every_table_bounded(
    host_oauth: Callable[..., Any], sandbox: Sandbox
) -> None:
    async with (
        host_oauth(trusted_proxies=["127.0.0.1"]) as hosted,
        httpx.AsyncClient(timeout=30) as http,
    ):
        oauth = hosted.server.oauth
        assert oauth is not None
        # The server's figures, scaled down so that a flood fills them in seconds.
        oauth.limits = limits = replace(
            oauth.limits,
            registrations=Budget("register/all", 60, 3600.0),
            unused_clients=40,
            sign_ins=Budget("sign-in/all", 80, 600.0),
            open_sign_ins=50,
            checks=Budget("check/all", 30, 900.0),
        )

        def at(n: int) -> dict[str, str]:
            return {"X-Forwarded-For": f"198.51.{n // 250}.{n % 250 + 1}"}

        statuses: dict[str, list[int]] = {"register": [], "authorize": [], "check": []}
        client_ids = []
        for n in range(80):  # each stranger at an address of its own
            answer = await http.post(
                f"{hosted.origin}/register",
                json={
                    "client_name": "x" * 100,
                    "redirect_uris": [f"https://a.example/{n}/" + "x" * 470 for _ in range(10)],
                },
                headers=at(n),
            )
            statuses["register"].append(answer.status_code)
            if answer.status_code == 201:
                client_ids.append(answer.json()["client_id"])
        assert statuses["register"] == [201] * 60 + [429] * 20
        app = App(hosted, http, client_ids[-1], redirect_uri="https://a.example/59/" + "x" * 470)
        pages = []
        for n in range(100):
            url = app.authorize_url(pkce()[1], state="s" * 1_000)
            answer = await http.get(url, headers=at(n))
            statuses["authorize"].append(answer.status_code)
            if answer.status_code == 302:
                pages.append(answer.headers["location"])
        assert statuses["authorize"] == [302] * 50 + [503] * 30 + [429] * 20
        for n, location in enumerate(pages):
            person = Person("guess")
            page = await person.http.get(location, headers=at(n))
            answer = await person.post(page, action="check", token="guess")
            statuses["check"].append(answer.status_code)
            await person.aclose()
        assert statuses["check"] == [400] * 30 + [429] * 20

        history = hosted.settings.history_path
        measured = measure(history)
        rows = {table: counted for table, (counted, _) in measured.items()}
        assert rows["oauth_clients"] == limits.unused_clients
        assert rows["oauth_sign_ins"] == limits.open_sign_ins
        # Each attempt let through is spent once per budget it is charged to.
        spent_at_most = 2 * limits.registrations.allowed + 3 * limits.sign_ins.allowed
        assert rows["budget_spends"] <= spent_at_most + 4 * limits.checks.allowed
        biggest = {table: size / max(counted, 1) for table, (counted, size) in measured.items()}
        assert biggest["oauth_clients"] < 8 * 1024
        assert biggest["oauth_sign_ins"] < 4 * 1024
        assert biggest["budget_spends"] < 64

        # Clean-up: ended sign-ins, spends out of their window, clients unused for a day.
        state = hosted.server.running_state()
        later = time.time() + 86_400 + 60
        unused_since = (datetime.now(UTC) + timedelta(seconds=60)).isoformat(timespec="seconds")
        await state.history.grants.forget_expired(later, unused_since)
        await state.history.budgets.forget_before(later)
        assert {table: counted for table, (counted, _) in measure(history).items()} == {
            "oauth_clients": 0,
            "oauth_sign_ins": 0,
            "budget_spends": 0,
        }


async def test_a_client_that_completed_a_sign_in_is_kept(app: App, sandbox: Sandbox) -> None:
    await app.register()
    person = Person(sandbox.token)
    await app.tokens_for(person)
    await person.aclose()
    unused = App(app.hosted, app.http)
    await unused.register()
    grants: GrantStore = app.hosted.server.running_state().history.grants
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat(timespec="seconds")
    await grants.forget_expired(time.time(), tomorrow)
    assert await grants.client(app.client_id) is not None
    assert await grants.client(unused.client_id) is None
