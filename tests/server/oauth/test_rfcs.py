"""The authorization server as the RFCs have it, against what a stranger or a real client sends:
no open redirector (RFC 9700 §4.11.2), malformed input answered with a 4xx, public clients
revoking with their id alone (RFC 7009), any loopback port (RFC 8252 §7.3), the issuer in the
authorization response (RFC 9207), verifiers of 43 to 128 characters (RFC 7636), and tokens for
this server alone (RFC 8707)."""

from __future__ import annotations

import base64
import hashlib
import logging

import pytest

from descript_mcp.sandbox import Sandbox
from tests.server.oauth.conftest import App, Person, code_of, pkce, redirect_query, refusal

pytestmark = pytest.mark.anyio

PHISHING = "https://phish.example/landing"


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def test_errors_for_a_web_client_are_shown_here_not_sent_to_its_site(app: App) -> None:
    await app.register(redirect_uris=[PHISHING])
    app.redirect_uri = PHISHING
    _, challenge = pkce()
    no_pkce = app.authorize_url(challenge).replace("code_challenge=", "no_challenge=")
    cases = {
        no_pkce: "invalid_request",
        app.authorize_url(challenge, resource="https://other.example/mcp"): "invalid_target",
        app.authorize_url(challenge, scope="admin"): "invalid_scope",
        app.authorize_url(challenge, response_type="token"): "unsupported_response_type",
        app.authorize_url(challenge, code_challenge_method="plain"): "invalid_request",
    }
    for url, code in cases.items():
        answer = await app.http.get(url)
        assert answer.status_code == 400, url
        assert refusal(answer) == code  # a page of this server: no Location header
        assert "phish.example" not in answer.text
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")


async def test_errors_for_a_native_app_go_back_to_it_with_the_issuer(app: App) -> None:
    await app.register()  # its redirect URI is on loopback: the person's own machine
    _, challenge = pkce()
    answer = await app.http.get(app.authorize_url(challenge, scope="admin"))
    assert answer.status_code == 302
    query = redirect_query(answer.headers["location"])
    assert query["error"] == "invalid_scope"
    assert query["state"] == "xyz"
    assert query["iss"] == app.hosted.origin


async def test_malformed_client_ids_get_a_4xx_at_every_endpoint(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, challenge = pkce()
    malformed = [
        "https://8.8.8.8/%00x",
        "https://8.8.8.8/\x00x",
        "https://[::1/x",
        "https://8.8.8.8:99999/x",
        "https://example.com/" + "x" * 5_000,
        "https://exa\xffmple.com/\u202ex",
    ]
    origin = app.hosted.origin
    for client_id in malformed:
        url = App(app.hosted, app.http, client_id=client_id).authorize_url(challenge)
        answers = [
            await app.http.get(url),
            await app.http.post(
                f"{origin}/token",
                data={"grant_type": "authorization_code", "client_id": client_id, "code": "c"},
            ),
            await app.http.post(f"{origin}/revoke", data={"token": "t", "client_id": client_id}),
        ]
        for answer in answers:
            assert 400 <= answer.status_code < 500, (client_id, answer.text)
            assert "Traceback" not in answer.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_public_client_revokes_with_its_client_id_alone(app: App, sandbox: Sandbox) -> None:
    metadata = await app.http.get(f"{app.hosted.origin}/.well-known/oauth-authorization-server")
    assert "none" in metadata.json()["token_endpoint_auth_methods_supported"]
    assert "none" in metadata.json()["revocation_endpoint_auth_methods_supported"]
    assert metadata.json()["authorization_response_iss_parameter_supported"] is True

    await app.register()
    person = Person(sandbox.token)
    tokens = await app.tokens_for(person)
    await person.aclose()
    revoked = await app.http.post(
        f"{app.hosted.origin}/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"}
        | {"client_id": app.client_id},
    )
    assert revoked.status_code == 200, revoked.text
    assert await app.mcp_status(tokens["access_token"]) == 401
    assert (await app.refresh(tokens["refresh_token"])).status_code == 400
    unnamed = await app.http.post(f"{app.hosted.origin}/revoke", data={"token": "t"})
    assert unnamed.status_code == 401
    assert unnamed.json()["error"] == "invalid_client"


async def test_a_native_app_returns_on_any_loopback_port(app: App, sandbox: Sandbox) -> None:
    await app.register(redirect_uris=["http://127.0.0.1:33418/callback"])
    app.redirect_uri = "http://127.0.0.1:50123/callback"  # the port it found free this time
    person = Person(sandbox.token)
    verifier, challenge = pkce()
    location = await person.connect(app.authorize_url(challenge))
    assert location.startswith("http://127.0.0.1:50123/callback?")
    assert redirect_query(location)["iss"] == app.hosted.origin
    code, _ = code_of(location)
    assert (await app.exchange(code, verifier)).status_code == 200
    # Only the port may differ, and only on loopback.
    for elsewhere in ("http://127.0.0.1:50123/other", "http://localhost:50123/callback"):
        app.redirect_uri = elsewhere
        answer = await app.http.get(app.authorize_url(challenge))
        assert refusal(answer) == "invalid_request", elsewhere
    web = App(app.hosted, app.http, redirect_uri="https://app.example/cb")
    await web.register()
    web.redirect_uri = "https://app.example:8443/cb"
    assert refusal(await app.http.get(web.authorize_url(challenge))) == "invalid_request"
    await person.aclose()


async def test_the_answer_to_the_app_names_the_issuer(app: App, sandbox: Sandbox) -> None:
    await app.register()
    _, challenge = pkce()
    person = Person(sandbox.token)
    allowed = redirect_query(await person.connect(app.authorize_url(challenge)))
    assert allowed["iss"] == app.hosted.origin
    page = await person.open(app.authorize_url(challenge))
    denied = await person.post(page, action="deny")
    assert redirect_query(denied.headers["location"])["iss"] == app.hosted.origin
    await person.aclose()


async def test_a_pkce_verifier_is_43_to_128_characters(app: App, sandbox: Sandbox) -> None:
    await app.register()
    person = Person(sandbox.token)
    for verifier in ("a", "a" * 42, "a" * 129, "é" * 43):
        code, _ = code_of(await person.connect(app.authorize_url(challenge_of(verifier))))
        answer = await app.exchange(code, verifier)
        assert answer.status_code == 400, verifier
        assert answer.json()["error"] == "invalid_request"
        assert "43 to 128" in answer.json()["error_description"]
    for verifier in ("a" * 43, "A-._~" * 25 + "abc"):
        code, _ = code_of(await person.connect(app.authorize_url(challenge_of(verifier))))
        assert (await app.exchange(code, verifier)).status_code == 200, verifier
    await person.aclose()


async def test_a_token_for_another_resource_is_invalid_target(app: App, sandbox: Sandbox) -> None:
    await app.register()
    person = Person(sandbox.token)
    verifier, challenge = pkce()
    code, _ = code_of(await person.connect(app.authorize_url(challenge)))
    foreign = await app.exchange(code, verifier, resource="https://other.example/mcp")
    assert foreign.status_code == 400
    assert foreign.json()["error"] == "invalid_target"
    own = await app.exchange(code, verifier, resource=app.hosted.mcp_url)
    assert own.status_code == 200, own.text
    refreshed = await app.http.post(
        f"{app.hosted.origin}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": own.json()["refresh_token"],
            "client_id": app.client_id,
            "resource": "https://other.example/mcp",
        },
    )
    assert refreshed.json()["error"] == "invalid_target"
    await person.aclose()
