"""The OAuth mode end to end, with the MCP SDK's own OAuth client: discovery from a 401,
registration, authorize, the connect page, code exchange, a tool call through to the sandbox,
refresh, revocation, and a 401 after it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl

from descript_mcp.history.grant_store import GrantStore
from descript_mcp.sandbox import Sandbox
from tests.server.conftest import structured
from tests.server.oauth.conftest import REDIRECT_URI, Hosted, Person, redirect_query

pytestmark = pytest.mark.anyio


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def sdk_auth(
    hosted: Hosted,
    person: Person,
    storage: MemoryStorage,
    auth_method: Literal["none"] | None = None,
    **options: Any,
) -> OAuthClientProvider:
    """The SDK's OAuth client, whose 'browser' is `person`; a public client with `auth_method`
    "none", else one the server gives a secret."""
    sent_back: list[str] = []

    async def redirect_handler(authorize_url: str) -> None:
        sent_back.append(await person.connect(authorize_url))

    async def callback_handler() -> AuthorizationCodeResult:
        query = redirect_query(sent_back.pop())
        return AuthorizationCodeResult(code=query["code"], state=query["state"], iss=query["iss"])

    metadata = OAuthClientMetadata(
        client_name="Test Assistant",
        redirect_uris=[AnyUrl(REDIRECT_URI)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method=auth_method,
    )
    return OAuthClientProvider(
        hosted.mcp_url,
        metadata,
        storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        **options,
    )


@asynccontextmanager
async def connected(hosted: Hosted, auth: OAuthClientProvider) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(auth=auth, timeout=httpx2.Timeout(30)) as http,
        Client(streamable_http_client(hosted.mcp_url, http_client=http)) as mcp,
    ):
        yield mcp


async def test_an_sdk_client_connects_calls_refreshes_and_is_revoked(
    hosted: Hosted, sandbox: Sandbox
) -> None:
    async with httpx.AsyncClient() as http:
        unauthorized = await http.post(hosted.mcp_url, json={})
        assert unauthorized.status_code == 401
        challenge = unauthorized.headers["www-authenticate"]
        assert f'resource_metadata="{hosted.origin}/.well-known/oauth-protected-resource/mcp"' in (
            challenge
        )
        resource = (
            await http.get(f"{hosted.origin}/.well-known/oauth-protected-resource/mcp")
        ).json()
        assert resource["resource"] == hosted.mcp_url
        assert resource["authorization_servers"] == [hosted.origin]
        server = (await http.get(f"{hosted.origin}/.well-known/oauth-authorization-server")).json()
        assert server["issuer"] == hosted.origin  # exactly: clients compare it as a string
        assert server["code_challenge_methods_supported"] == ["S256"]
        assert server["client_id_metadata_document_supported"] is True
        assert server["registration_endpoint"] == f"{hosted.origin}/register"
        assert server["revocation_endpoint"] == f"{hosted.origin}/revoke"

    person = Person(sandbox.token)
    storage = MemoryStorage()
    auth = sdk_auth(hosted, person, storage)
    async with connected(hosted, auth) as mcp:
        status = structured(await mcp.call_tool("list_projects", {}))
        assert "projects" in status
    assert storage.client_info is not None
    assert storage.client_info.client_id
    first = storage.tokens
    assert first is not None
    assert first.expires_in == 3600
    assert first.refresh_token
    # The person saw the client's name and redirect host, then the drive of their token.
    assert "Test Assistant" in person.pages[0].text
    assert "127.0.0.1:33418" in person.pages[0].text
    assert "Sandbox Drive" in person.pages[1].text

    # An expired access token is refreshed, and the refresh token rotated.
    auth.context.token_expiry_time = time.time() - 1
    async with connected(hosted, auth) as mcp:
        structured(await mcp.call_tool("list_projects", {}))
    second = storage.tokens
    assert second is not None
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token

    async with httpx.AsyncClient() as http:
        revoked = await http.post(
            f"{hosted.origin}/revoke",
            data={
                "token": second.access_token,
                "client_id": storage.client_info.client_id,
                "client_secret": storage.client_info.client_secret or "",
            },
        )
        assert revoked.status_code == 200, revoked.text
        after = await http.post(
            hosted.mcp_url,
            json={},
            headers={"Authorization": f"Bearer {second.access_token}"},
        )
        assert after.status_code == 401
        # Revoking the access token revoked its grant: the refresh token is dead too.
        refreshed = await http.post(
            f"{hosted.origin}/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": second.refresh_token or "",
                "client_id": storage.client_info.client_id,
                "client_secret": storage.client_info.client_secret or "",
            },
        )
        assert refreshed.status_code == 400
        assert refreshed.json()["error"] == "invalid_grant"
    await person.aclose()


async def test_each_grant_serves_its_own_drive_and_history(
    host_oauth: Callable[..., Any], sandbox: Sandbox
) -> None:
    from descript_mcp.sandbox import OTHER_DRIVE_TOKEN

    async with host_oauth() as hosted:
        alice, bob = Person(sandbox.token), Person(OTHER_DRIVE_TOKEN)
        alice_auth = sdk_auth(hosted, alice, MemoryStorage())
        bob_auth = sdk_auth(hosted, bob, MemoryStorage())
        async with connected(hosted, alice_auth) as mcp:
            created = structured(
                await mcp.call_tool(
                    "agent_edit", {"prompt": "Make a short intro", "project_name": "Alice's"}
                )
            )
        async with connected(hosted, bob_auth) as mcp:
            jobs = structured(await mcp.call_tool("list_jobs", {}))
            assert created["job_id"] not in str(jobs)
        await alice.aclose()
        await bob.aclose()


async def test_an_sdk_public_client_connects_and_revokes_with_its_client_id_alone(
    hosted: Hosted, sandbox: Sandbox
) -> None:
    person = Person(sandbox.token)
    storage = MemoryStorage()
    async with connected(hosted, sdk_auth(hosted, person, storage, auth_method="none")) as mcp:
        assert "projects" in structured(await mcp.call_tool("list_projects", {}))
    await person.aclose()
    assert storage.client_info is not None
    assert storage.client_info.client_secret is None
    assert storage.tokens is not None
    async with httpx.AsyncClient() as http:
        revoked = await http.post(
            f"{hosted.origin}/revoke",
            data={"token": storage.tokens.access_token, "client_id": storage.client_info.client_id},
        )
        assert revoked.status_code == 200, revoked.text
        after = await http.post(
            hosted.mcp_url,
            json={},
            headers={"Authorization": f"Bearer {storage.tokens.access_token}"},
        )
        assert after.status_code == 401


async def test_a_request_asks_the_store_about_its_access_token_once(
    hosted: Hosted, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gate, the SDK's bearer check and the caller lookup each need the access token's
    grant: one request, one question to the store. A revocation still ends it at once."""
    asked: list[str] = []
    live_access = GrantStore.live_access

    async def counted(store: GrantStore, token_hash: str, at: float) -> Any:
        asked.append(token_hash)
        return await live_access(store, token_hash, at)

    monkeypatch.setattr(GrantStore, "live_access", counted)
    person = Person(sandbox.token)
    storage = MemoryStorage()
    async with connected(hosted, sdk_auth(hosted, person, storage)) as mcp:
        per_call = []
        for _ in range(3):
            asked.clear()
            status = structured(await mcp.call_tool("get_drive_status", {}))
            assert status["drive_name"]
            per_call.append(len(asked))
    # Once a call (five times before: the gate, the bearer check, the caller lookups). The first
    # call's session also opens its event stream: a request of its own, asking once too.
    assert per_call[1:] == [1, 1]
    assert per_call[0] <= 2
    assert storage.tokens is not None
    assert hosted.server.oauth is not None
    access = await hosted.server.oauth.load_access_token(storage.tokens.access_token)
    assert access is not None
    await hosted.server.oauth.revoke_token(access)
    async with httpx.AsyncClient() as http:
        refused = await http.post(
            hosted.mcp_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={"Authorization": f"Bearer {storage.tokens.access_token}"},
        )
    assert refused.status_code == 401  # at once: nothing read outlives its request
    await person.aclose()
