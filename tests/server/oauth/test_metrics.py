"""The OAuth mode's metrics: sign-ins under way, and sign-ins refused by reason, as a scrape of
/metrics sees them after a person opens the connect page, gives a token Descript refuses, and
one more sign-in finds the server at its bound of sign-ins kept."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from bench._sandbox import free_port
from descript_mcp.server import metrics
from tests.server.oauth.conftest import App, Person, pkce
from tests.waiting import eventually

pytestmark = pytest.mark.anyio


def sample(exposition: str, series: str) -> float | None:
    found = re.search(rf"^{re.escape(series)} (\S+)$", exposition, re.MULTILINE)
    return float(found[1]) if found else None


async def test_sign_ins_pending_and_refused_are_counted(
    host_oauth: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "SAMPLED_EVERY", 0.05)
    port = free_port()
    async with (
        host_oauth(port=port, metrics_port=port) as hosted,
        httpx.AsyncClient(timeout=30) as http,
    ):
        app = App(hosted, http)
        await app.register()
        person = Person("a-token-descript-refuses")
        try:
            _, challenge = pkce()
            page = await person.open(app.authorize_url(challenge))
            assert page.status_code == 200
            refused = await person.post(page, action="check", token=person.token)
            assert refused.status_code == 400
        finally:
            await person.aclose()
        oauth = hosted.server.oauth
        assert oauth is not None
        oauth.limits = replace(oauth.limits, open_sign_ins=1)  # the one under way is the most
        busy = await http.get(app.authorize_url(challenge))
        assert "temporarily_unavailable" in busy.headers["location"]

        async def counted() -> str | None:
            scraped = (await http.get(f"{hosted.origin}/metrics")).text
            pending = sample(scraped, "descript_mcp_oauth_sign_ins_pending")
            return scraped if pending == 1 else None

        scraped = await eventually(counted, "the sign-in under way counted")
    refusals = 'descript_mcp_oauth_sign_ins_refused_total{reason="%s"}'
    assert sample(scraped, refusals % "token_rejected") == 1
    assert sample(scraped, refusals % "too_many_open") == 1
    assert person.token not in scraped
