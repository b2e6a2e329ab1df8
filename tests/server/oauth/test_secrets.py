"""Where a Descript token handed to the connect page ends up: in the vault, sealed, and nowhere
else; the vault's key; and the command line that lists and revokes grants."""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from descript_mcp.errors import ConfigurationError, SealedSecretError
from descript_mcp.sandbox import SandboxConfig
from descript_mcp.server.oauth.vault import Vault
from tests.server.conftest import structured
from tests.server.oauth.conftest import App, Person

pytestmark = pytest.mark.anyio

MARKED_TOKEN = "dx_bearer_LEAKCHECK9f3a:dx_secret_LEAKCHECK7c21"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    config = SandboxConfig.for_tests()
    config.drives[0].tokens = (*config.drives[0].tokens, MARKED_TOKEN)
    return config


def every_file_under(folder: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


async def test_the_descript_token_is_found_only_sealed_in_the_vault(
    app: App, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await app.register()
    person = Person(MARKED_TOKEN)
    tokens = await app.tokens_for(person)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(app.hosted.mcp_url, http_client=http)) as mcp,
    ):
        answers = [
            await mcp.call_tool("list_projects", {}),
            await mcp.call_tool("agent_edit", {"prompt": "An intro", "project_name": "Leak"}),
        ]
    assert "job_id" in structured(answers[1])
    refreshed = await app.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200

    seen = (
        [page.text for page in person.pages]
        + [a.model_dump_json() for a in answers]
        + [refreshed.text]
    )
    seen += [record.getMessage() for record in caplog.records]
    seen += [str(record.args) for record in caplog.records]
    assert not [text for text in seen if "LEAKCHECK" in text]
    files = every_file_under(tmp_path)
    assert files, "the history was written"
    assert not [name for name, data in files.items() if b"LEAKCHECK" in data]

    # It is there, sealed: the vault opens it, and only for its grant.
    vault = Vault.from_key_file(app.hosted.settings.key_file())
    with sqlite3.connect(app.hosted.settings.history_path) as db:
        ((grant_id, sealed),) = db.execute("SELECT grant_id, sealed_token FROM oauth_grants")
    assert vault.open(sealed, context=grant_id) == MARKED_TOKEN
    with pytest.raises(SealedSecretError):
        vault.open(sealed, context="another-grant")
    await person.aclose()


def test_the_key_file_is_made_private_and_a_shared_one_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "secret.key"
    vault = Vault.from_key_file(key_file)
    assert key_file.stat().st_mode & 0o777 == 0o600
    sealed = vault.seal("a secret", context="here")
    assert Vault.from_key_file(key_file).open(sealed, context="here") == "a secret"
    with pytest.raises(SealedSecretError, match="another secret key"):
        Vault.from_key_text(secrets.token_urlsafe(32)).open(sealed, context="here")
    key_file.chmod(0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        Vault.from_key_file(key_file)
    with pytest.raises(ConfigurationError, match="token_urlsafe"):
        Vault.from_key_text("too short")


async def test_auth_list_shows_grants_without_secrets_and_revoke_ends_them(
    app: App, tmp_path: Path
) -> None:
    await app.register(client_name="Team Assistant")
    person = Person(MARKED_TOKEN)
    tokens = await app.tokens_for(person)
    await person.aclose()
    environ = os.environ | {"DESCRIPT_MCP_HISTORY": str(app.hosted.settings.history_path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "descript_mcp", "auth", *args],
            env=environ,
            capture_output=True,
            text=True,
            check=False,
        )

    listed = cli("list", "--json")
    assert listed.returncode == 0, listed.stderr
    (grant,) = json.loads(listed.stdout)
    assert grant["client_name"] == "Team Assistant"
    assert grant["drive_name"] == "Sandbox Drive"
    assert grant["live_tokens"] == 2
    assert grant["revoked_at"] is None
    for secret in (MARKED_TOKEN, tokens["access_token"], tokens["refresh_token"]):
        assert secret not in listed.stdout + cli("list").stdout
    assert await app.mcp_status(tokens["access_token"]) != 401

    revoked = cli("revoke", grant["grant_id"])
    assert revoked.returncode == 0
    assert grant["grant_id"] in revoked.stdout
    assert await app.mcp_status(tokens["access_token"]) == 401
    assert (await app.refresh(tokens["refresh_token"])).status_code == 400
    assert cli("revoke", grant["grant_id"]).returncode == 1
    (after,) = json.loads(cli("list", "--json").stdout)
    assert after["revoked_at"] is not None
    assert after["live_tokens"] == 0
