"""What the authorization server refuses, each with a clear answer."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from descript_mcp.sandbox import Sandbox
from tests.server.oauth.conftest import App, Person, code_of, pkce, refusal

pytestmark = pytest.mark.anyio


async def test_a_redirect_uri_not_registered_is_refused_without_redirecting(app: App) -> None:
    await app.register()
    _, challenge = pkce()
    answer = await app.http.get(
        app.authorize_url(challenge, redirect_uri="https://attacker.example/cb")
    )
    assert answer.status_code == 400
    assert refusal(answer) == "invalid_request"
    assert "did not register" in answer.text
    # Registration refuses redirect URIs that are plain http off loopback.
    refused = await app.http.post(
        f"{app.hosted.origin}/register",
        json={"redirect_uris": ["http://example.com/cb"], "token_endpoint_auth_method": "none"},
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_redirect_uri"


async def test_a_code_used_twice_is_refused_and_revokes_its_tokens(
    app: App, sandbox: Sandbox
) -> None:
    await app.register()
    person = Person(sandbox.token)
    verifier, challenge = pkce()
    code, state = code_of(await person.connect(app.authorize_url(challenge)))
    assert state == "xyz"
    first = await app.exchange(code, verifier)
    assert first.status_code == 200
    access = first.json()["access_token"]
    assert await app.mcp_status(access) != 401
    again = await app.exchange(code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert "used already" in again.json()["error_description"]
    assert await app.mcp_status(access) == 401
    await person.aclose()


async def test_pkce_is_required_s256_only_and_checked(app: App, sandbox: Sandbox) -> None:
    await app.register()
    verifier, challenge = pkce()
    missing = await app.http.get(app.authorize_url(challenge).replace("code_challenge=", "x="))
    assert missing.status_code in (302, 400)
    assert "code_challenge" in (missing.headers.get("location", "") + missing.text)
    plain = await app.http.get(app.authorize_url(challenge, code_challenge_method="plain"))
    assert plain.status_code in (302, 400)
    assert "invalid_request" in (plain.headers.get("location", "") + plain.text)
    person = Person(sandbox.token)
    code, _ = code_of(await person.connect(app.authorize_url(challenge)))
    wrong = await app.exchange(code, verifier + "x")
    assert wrong.status_code == 400
    assert wrong.json() == {
        "error": "invalid_grant",
        "error_description": "incorrect code_verifier",
    }
    await person.aclose()


async def test_tokens_are_only_for_this_server(
    host_oauth: Callable[..., Any], sandbox: Sandbox
) -> None:
    async with host_oauth() as hosted, httpx.AsyncClient(timeout=30) as http:
        app = App(hosted, http)
        await app.register()
        _, challenge = pkce()
        other = await http.get(app.authorize_url(challenge, resource="https://other.example/mcp"))
        assert other.status_code == 302
        query = parse_qs(urlsplit(other.headers["location"]).query)
        assert query["error"] == ["invalid_target"]
        person = Person(sandbox.token)
        tokens = await app.tokens_for(person)
        await person.aclose()
        assert await app.mcp_status(tokens["access_token"]) != 401
        port = hosted.settings.port
    # The same store and key, served under another URL: the token names another resource.
    async with (
        host_oauth(public_url=f"http://localhost:{port}", port=port) as moved,
        httpx.AsyncClient(timeout=30) as http,
    ):
        assert await App(moved, http).mcp_status(tokens["access_token"]) == 401


async def test_an_expired_access_token_is_refused(app: App, sandbox: Sandbox) -> None:
    await app.register()
    person = Person(sandbox.token)
    tokens = await app.tokens_for(person)
    await person.aclose()
    with sqlite3.connect(app.hosted.settings.history_path) as db:
        db.execute("UPDATE oauth_tokens SET expires_at = ? WHERE kind = 'access'", (time.time(),))
    answer = await app.http.post(
        app.hosted.mcp_url, json={}, headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert answer.status_code == 401
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


async def test_a_reused_refresh_token_revokes_the_whole_family(app: App, sandbox: Sandbox) -> None:
    await app.register()
    person = Person(sandbox.token)
    first = await app.tokens_for(person)
    await person.aclose()
    rotated = await app.refresh(first["refresh_token"])
    assert rotated.status_code == 200
    second = rotated.json()
    assert await app.mcp_status(second["access_token"]) != 401
    reused = await app.refresh(first["refresh_token"])  # a copy, played back
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert "revoked" in reused.json()["error_description"]
    assert await app.mcp_status(second["access_token"]) == 401
    assert (await app.refresh(second["refresh_token"])).status_code == 400


async def test_guessing_tokens_on_the_connect_page_is_rate_limited(
    app: App, sandbox: Sandbox
) -> None:
    await app.register()
    _, challenge = pkce()
    person = Person("not-a-token")
    page = await person.open(app.authorize_url(challenge))
    statuses = []
    for guess in range(6):
        answer = await person.post(page, action="check", token=f"guess-{guess}")
        statuses.append(answer.status_code)
    assert statuses == [400] * 5 + [429]
    assert "Too many tokens were tried in this sign-in" in person.pages[-1].text
    assert "Retry-After" in person.pages[-1].headers
    # Even the right token waits now: this sign-in is spent.
    right = await person.post(page, action="check", token=sandbox.token)
    assert right.status_code == 429
    await person.aclose()


async def test_the_connect_page_refuses_forms_without_csrf_or_from_another_browser(
    app: App, sandbox: Sandbox
) -> None:
    await app.register()
    _, challenge = pkce()
    person = Person(sandbox.token)
    page = await person.open(app.authorize_url(challenge))
    forged = await person.post(page, csrf="", action="check", token=sandbox.token)
    assert forged.status_code == 403
    assert "could not be checked" in forged.text
    intruder = Person(sandbox.token)
    seen = await intruder.http.get(str(page.url))
    assert seen.status_code == 403
    assert "another browser" in seen.text
    stolen = await intruder.http.post(
        str(page.url), data={"csrf": "x", "action": "check", "token": sandbox.token}
    )
    assert stolen.status_code == 403
    # Denying sends the app back with access_denied.
    denied = await person.post(page, action="deny")
    assert denied.status_code == 303
    assert parse_qs(urlsplit(denied.headers["location"]).query)["error"] == ["access_denied"]
    ended = await person.http.get(str(page.url))
    assert ended.status_code == 404
    await person.aclose()
    await intruder.aclose()


async def test_the_connect_page_names_the_client_and_escapes_what_it_says(
    app: App, sandbox: Sandbox
) -> None:
    await app.register(client_name="<script>alert(1)</script>Evil")
    _, challenge = pkce()
    person = Person(sandbox.token)
    page = await person.open(app.authorize_url(challenge))
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Evil" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    await person.aclose()


async def test_a_session_is_bound_to_the_grant_that_opened_it(app: App, sandbox: Sandbox) -> None:
    from descript_mcp.sandbox import OTHER_DRIVE_TOKEN

    await app.register()
    alice, bob = Person(sandbox.token), Person(OTHER_DRIVE_TOKEN)
    alice_tokens, bob_tokens = await app.tokens_for(alice), await app.tokens_for(bob)
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    initialize = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "alice", "version": "1"},
        },
    }
    opened = await app.http.post(
        app.hosted.mcp_url,
        json=initialize,
        headers=headers | {"Authorization": f"Bearer {alice_tokens['access_token']}"},
    )
    assert opened.status_code == 200, opened.text
    session = opened.headers["mcp-session-id"]
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    taken = await app.http.post(
        app.hosted.mcp_url,
        json=ping,
        headers=headers
        | {"Authorization": f"Bearer {bob_tokens['access_token']}", "Mcp-Session-Id": session},
    )
    assert taken.status_code == 404
    own = await app.http.post(
        app.hosted.mcp_url,
        json=ping,
        headers=headers
        | {"Authorization": f"Bearer {alice_tokens['access_token']}", "Mcp-Session-Id": session},
    )
    assert own.status_code == 200
    await alice.aclose()
    await bob.aclose()


async def test_sign_ins_are_bounded_and_one_app_cannot_revoke_anothers_tokens(
    app: App, sandbox: Sandbox
) -> None:
    await app.register()
    person = Person(sandbox.token)
    tokens = await app.tokens_for(person)
    await person.aclose()
    other = App(app.hosted, app.http)
    await other.register()
    refused = await app.http.post(
        f"{app.hosted.origin}/revoke",
        data={"token": tokens["access_token"], "client_id": other.client_id},
    )
    assert refused.status_code == 200, refused.text  # RFC 7009: no hint for whoever guesses
    assert await app.mcp_status(tokens["access_token"]) != 401

    oauth = app.hosted.server.oauth
    assert oauth is not None
    oauth.limits = replace(oauth.limits, open_sign_ins=2)
    _, challenge = pkce()
    answers = [await app.http.get(app.authorize_url(challenge)) for _ in range(3)]
    assert [a.status_code for a in answers] == [302, 302, 302]
    assert "/connect/" in answers[1].headers["location"]
    query = parse_qs(urlsplit(answers[2].headers["location"]).query)
    assert query["error"] == ["temporarily_unavailable"]  # to a loopback app: on its machine
