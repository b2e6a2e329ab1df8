"""The OAuth mode, served for real: the sandbox over HTTP, descript-mcp with `--auth oauth` in
this event loop on a loopback port, and a person's browser played by an HTTP client that keeps
cookies and fills in the connect page."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from bench._sandbox import free_port
from descript_mcp.client.api import shared_tls_context
from descript_mcp.sandbox import Sandbox, serve
from descript_mcp.sandbox.server import serve_app
from descript_mcp.server import build_server
from descript_mcp.server.app import DescriptServer
from descript_mcp.server.http.run import http_app
from descript_mcp.settings import Settings
from tests.conftest import FAST_POLL

REDIRECT_URI = "http://127.0.0.1:33418/callback"


@dataclass
class Hosted:
    origin: str
    server: DescriptServer
    settings: Settings

    @property
    def mcp_url(self) -> str:
        return f"{self.origin}/mcp"


@pytest.fixture
async def sandbox_api(sandbox: Sandbox) -> AsyncIterator[str]:
    async with serve(sandbox) as url:
        yield url


@pytest.fixture
def host_oauth(sandbox_api: str, tmp_path: Path) -> Callable[..., Any]:
    """Start descript-mcp in the OAuth mode: `async with host_oauth() as hosted`."""

    @asynccontextmanager
    async def host(port: int | None = None, **changes: Any) -> AsyncIterator[Hosted]:
        port = port or free_port()
        values: dict[str, Any] = {
            "api_url": sandbox_api,
            "history_path": tmp_path / "history.sqlite3",
            "transport": "http",
            "port": port,
            "auth": "oauth",
            "public_url": f"http://127.0.0.1:{port}",
            "wait_seconds": 5,
        }
        settings = Settings(**(values | changes))
        server = build_server(settings, poll_schedule=FAST_POLL)
        async with serve_app(http_app(server, settings), port=port) as origin:
            yield Hosted(origin, server, settings)

    return host


@pytest.fixture
async def hosted(host_oauth: Callable[..., Any]) -> AsyncIterator[Hosted]:
    async with host_oauth() as running:
        yield running


def form_value(html: str, name: str) -> str:
    found = re.search(rf"name={name} value=([^\s>]+)", html)
    assert found, f"no {name} in the page"
    return found.group(1)


# A connection idle for a second is not reused: the server closes one idle for 5 s, and a
# request sent on it just then is cut (a busy machine's browser steps take that long).
KEEPALIVE = httpx.Limits(keepalive_expiry=1.0)


def http_from(address: str | None = None) -> httpx.AsyncClient:
    """An HTTP client whose connections come from `address` (any of 127.0.0.0/8 is this
    machine's): to the server, a client at another address."""
    transport = (
        httpx.AsyncHTTPTransport(local_address=address, limits=KEEPALIVE) if address else None
    )
    return httpx.AsyncClient(timeout=30, transport=transport, limits=KEEPALIVE)


class Person:
    """A browser (an HTTP client with its own cookies) on the connect page, at `address`."""

    def __init__(self, token: str, address: str | None = None) -> None:
        self.token = token
        self.http = http_from(address)
        self.pages: list[httpx.Response] = []

    async def aclose(self) -> None:
        await self.http.aclose()

    async def open(self, authorize_url: str) -> httpx.Response:
        """Follow /authorize to the connect page."""
        page = await self.http.get(authorize_url, follow_redirects=True)
        self.pages.append(page)
        return page

    async def post(self, page: httpx.Response, **fields: str) -> httpx.Response:
        fields.setdefault("csrf", form_value(page.text, "csrf"))
        answer = await self.http.post(str(page.url), data=fields)
        self.pages.append(answer)
        return answer

    async def connect(self, authorize_url: str) -> str:
        """Give the token, allow: where the app is sent back to (with its code)."""
        page = await self.open(authorize_url)
        assert page.status_code == 200, page.text
        confirm = await self.post(page, action="check", token=self.token)
        assert confirm.status_code == 200, confirm.text
        done = await self.post(confirm, action="confirm")
        assert done.status_code == 303, done.text
        return done.headers["location"]


def code_of(location: str) -> tuple[str, str | None]:
    query = parse_qs(urlsplit(location).query)
    return query["code"][0], query.get("state", [None])[0]


def redirect_query(location: str) -> dict[str, str]:
    """The parameters the app is sent back with (each once)."""
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def refusal(page: httpx.Response) -> str:
    """The OAuth error code on a page of this server that refused an authorization request
    (rather than sending the browser back to the app)."""
    assert "location" not in page.headers, page.headers["location"]
    found = re.search(r"<code id=error-code>([a-z_]+)</code>", page.text)
    assert found, page.text
    return found.group(1)


def pkce() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


@dataclass
class App:
    """An OAuth client driven by hand: registration, authorize URL, code exchange, refresh."""

    hosted: Hosted
    http: httpx.AsyncClient
    client_id: str = ""
    redirect_uri: str = REDIRECT_URI

    async def register(self, **metadata: Any) -> dict[str, Any]:
        body = {
            "client_name": "Hand-driven app",
            "redirect_uris": [self.redirect_uri],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        } | metadata
        answer = await self.http.post(f"{self.hosted.origin}/register", json=body)
        assert answer.status_code == 201, answer.text
        registered: dict[str, Any] = answer.json()
        self.client_id = registered["client_id"]
        return registered

    def authorize_url(self, challenge: str, **params: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "xyz",
            "resource": self.hosted.mcp_url,
        } | params
        return f"{self.hosted.origin}/authorize?{urlencode(query)}"

    async def exchange(self, code: str, verifier: str, **fields: str) -> httpx.Response:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": verifier,
        } | fields
        return await self.http.post(f"{self.hosted.origin}/token", data=data)

    async def refresh(self, refresh_token: str) -> httpx.Response:
        data = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self.client_id,
        }
        return await self.http.post(f"{self.hosted.origin}/token", data=data)

    async def tokens_for(self, person: Person) -> dict[str, Any]:
        """The whole flow: authorize, the person connects, the code is exchanged."""
        verifier, challenge = pkce()
        code, _ = code_of(await person.connect(self.authorize_url(challenge)))
        answer = await self.exchange(code, verifier)
        assert answer.status_code == 200, answer.text
        tokens: dict[str, Any] = answer.json()
        return tokens

    async def mcp_status(self, access_token: str) -> int:
        """The status of an MCP request made with `access_token`."""
        answer = await self.http.post(
            self.hosted.mcp_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            },
        )
        return answer.status_code


@pytest.fixture
async def app(hosted: Hosted) -> AsyncIterator[App]:
    async with httpx.AsyncClient(timeout=30, limits=KEEPALIVE, verify=shared_tls_context()) as http:
        yield App(hosted, http)
