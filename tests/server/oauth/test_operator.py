"""What the operator of a team's server controls and sees: which drives may be connected
(DESCRIPT_MCP_ALLOWED_DRIVES), and `descript-mcp auth list` showing names that strangers chose
without letting them drive the operator's terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from descript_mcp.sandbox import OTHER_DRIVE_TOKEN, Sandbox, SandboxConfig
from tests.server.oauth.conftest import App, Person, pkce

pytestmark = pytest.mark.anyio

# Set the clipboard (OSC 52), erase the line, set the window's title; reverse the text.
HOSTILE_NAME = "Team\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2K\r\x1b]0;pwned\x07\u202eevird"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    config = SandboxConfig.for_tests()
    config.drives[1].name = HOSTILE_NAME
    return config


async def test_only_the_teams_own_drives_can_be_connected(
    host_oauth: Callable[..., Any], sandbox: Sandbox
) -> None:
    team_drive = sandbox.config.drives[0].id
    async with host_oauth(allowed_drives=[team_drive]) as hosted, httpx.AsyncClient() as http:
        app = App(hosted, http)
        await app.register()
        outsider = Person(OTHER_DRIVE_TOKEN)
        page = await outsider.open(app.authorize_url(pkce()[1]))
        refused = await outsider.post(page, action="check", token=OTHER_DRIVE_TOKEN)
        assert refused.status_code == 403
        assert "which this server does not connect" in refused.text
        assert "only its team&#x27;s own drives" in refused.text
        assert "id=drive" not in refused.text  # nothing to confirm: the token form again
        await outsider.aclose()
        member = Person(sandbox.token)
        assert (await app.tokens_for(member))["access_token"]
        await member.aclose()
        history = hosted.server.running_state().history
        assert [s.grant.drive_name for s in await history.grants.grants()] == ["Sandbox Drive"]


async def test_auth_list_writes_out_the_control_characters_of_names(app: App) -> None:
    await app.register(client_name="Assistant")
    person = Person(OTHER_DRIVE_TOKEN)  # a stranger connects a drive named to attack
    await app.tokens_for(person)
    await person.aclose()
    listed = await anyio.run_process(
        [sys.executable, "-m", "descript_mcp", "auth", "list"],
        env=os.environ | {"DESCRIPT_MCP_HISTORY": str(app.hosted.settings.history_path)},
    )
    printed = listed.stdout.decode()
    assert not [ch for ch in printed if ch != "\n" and not ch.isprintable()]
    written_out = "Team\\x1b]52;c;cm0gLXJmIH4=\\x07\\x1b[2K\\r\\x1b]0;pwned\\x07\\u202eevird"
    assert f"drive: {written_out}" in printed
