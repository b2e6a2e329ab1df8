"""Clients whose id is the https URL of their metadata document: fetched from a real https
server (a test CA the server is told to trust), checked, cached, and refused when wrong."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from descript_mcp.sandbox import Sandbox
from descript_mcp.server.oauth.client_documents import ClientDocuments
from tests.server.conftest import structured
from tests.server.oauth.conftest import REDIRECT_URI, App, Hosted, Person, code_of, pkce, refusal
from tests.server.oauth.test_flow import MemoryStorage, connected, sdk_auth

pytestmark = pytest.mark.anyio


class DocumentHost:
    """An https server publishing client metadata documents, counting how often each is read."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}
        self.reads: dict[str, int] = {}
        self.origin = ""

    def url(self, name: str) -> str:
        return f"{self.origin}/clients/{name}.json"

    def publish(self, name: str, **fields: Any) -> str:
        url = self.url(name)
        self.documents[name] = {
            "client_id": url,
            "client_name": f"{name} app",
            "redirect_uris": [REDIRECT_URI],
        } | fields
        return url

    async def serve(self, request: Request) -> JSONResponse:
        name = request.path_params["name"]
        self.reads[name] = self.reads.get(name, 0) + 1
        if name not in self.documents:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse(self.documents[name], headers={"Cache-Control": "max-age=600"})


@asynccontextmanager
async def https_host(tmp_path: Path) -> AsyncIterator[tuple[DocumentHost, ssl.SSLContext]]:
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1")
    pem = tmp_path / "host.pem"
    certificate.private_key_and_cert_chain_pem.write_to_path(str(pem))
    host = DocumentHost()
    app = Starlette(routes=[Route("/clients/{name}.json", host.serve)])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    host.origin = f"https://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        app, log_level="warning", ssl_certfile=str(pem), ssl_keyfile=str(pem), lifespan="off"
    )
    server = uvicorn.Server(config)
    trust = ssl.create_default_context()
    authority.configure_trust(trust)
    async with anyio.create_task_group() as task_group:
        task_group.start_soon(server.serve, [sock])
        while not server.started:
            if server.should_exit:
                raise RuntimeError("the document host did not start")
            await anyio.sleep(0.01)
        try:
            yield host, trust
        finally:
            server.should_exit = True


@pytest.fixture
async def documents_and_server(
    host_oauth: Callable[..., Any], tmp_path: Path
) -> AsyncIterator[tuple[DocumentHost, Hosted]]:
    async with https_host(tmp_path) as (host, trust), host_oauth() as hosted:
        assert hosted.server.oauth is not None
        await hosted.server.oauth.documents.aclose()
        # Loopback is refused by default: anyone can make the server fetch a client id.
        hosted.server.oauth.documents = ClientDocuments(
            httpx.AsyncClient(verify=trust, follow_redirects=False), private_hosts=True
        )
        yield host, hosted


async def test_a_document_client_connects_without_registering(
    documents_and_server: tuple[DocumentHost, Hosted], sandbox: Sandbox
) -> None:
    host, hosted = documents_and_server
    client_id = host.publish("assistant")
    async with httpx.AsyncClient(timeout=30) as http:
        app = App(hosted, http, client_id=client_id)
        person = Person(sandbox.token)
        verifier, challenge = pkce()
        page = await person.open(app.authorize_url(challenge))
        assert "assistant app" in page.text
        assert "Its identity was checked at 127.0.0.1" in page.text
        code, _ = code_of(await person.connect(app.authorize_url(challenge)))
        tokens = await app.exchange(code, verifier)
        assert tokens.status_code == 200, tokens.text
        assert await app.mcp_status(tokens.json()["access_token"]) != 401
        await person.aclose()
    assert host.reads["assistant"] == 1  # kept for its max-age, not fetched per request


async def test_documents_that_do_not_match_are_refused(
    documents_and_server: tuple[DocumentHost, Hosted],
) -> None:
    host, hosted = documents_and_server
    elsewhere = host.publish("elsewhere", redirect_uris=["https://other.example/callback"])
    impostor = host.publish("impostor")
    host.documents["impostor"]["client_id"] = "https://someone-else.example/client.json"
    secretive = host.publish("secretive", token_endpoint_auth_method="client_secret_post")
    missing = host.url("missing")
    _, challenge = pkce()
    async with httpx.AsyncClient(timeout=30) as http:
        mismatch = await http.get(App(hosted, http, client_id=elsewhere).authorize_url(challenge))
        assert mismatch.status_code == 400
        assert refusal(mismatch) == "invalid_request"
        assert "did not register" in mismatch.text
        for client_id in (impostor, secretive, missing):
            refused = await http.get(
                App(hosted, http, client_id=client_id).authorize_url(challenge)
            )
            assert refused.status_code == 400, client_id
            assert "not known here" in refused.text


async def test_the_default_fetcher_refuses_private_addresses() -> None:
    documents = ClientDocuments()
    assert await documents.client("https://127.0.0.1:9/client.json") is None
    assert await documents.client("https://localhost/client.json") is None
    assert await documents.client("http://example.com/client.json") is None
    await documents.aclose()


async def test_the_sdk_client_uses_its_document_url_when_the_server_offers_it(
    documents_and_server: tuple[DocumentHost, Hosted], sandbox: Sandbox
) -> None:
    host, hosted = documents_and_server
    client_id = host.publish("sdk")
    storage = MemoryStorage()
    person = Person(sandbox.token)
    auth = sdk_auth(hosted, person, storage, client_metadata_url=client_id)
    async with connected(hosted, auth) as mcp:
        assert "projects" in structured(await mcp.call_tool("list_projects", {}))
    await person.aclose()
    assert storage.client_info is not None
    assert storage.client_info.client_id == client_id
    assert host.reads["sdk"] == 1
