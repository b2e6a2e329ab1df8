"""Settings from the environment and flags; token choice; redaction of signed URLs."""

from __future__ import annotations

import logging

import pytest
from mcp.server.mcpserver.exceptions import ToolError

from descript_mcp.errors import ConfigurationError
from descript_mcp.redact import install_log_redaction, redact_url, redact_urls
from descript_mcp.server.callers import choose_token
from descript_mcp.settings import Settings


def test_settings_come_from_the_environment_then_flags() -> None:
    settings = Settings.load(
        {
            "DESCRIPT_API_KEY": "secret-9f2",
            "DESCRIPT_MCP_WAIT_SECONDS": "30",
            "DESCRIPT_MCP_PORT": "9000",
            "DESCRIPT_MCP_HTTP_TOKEN_FALLBACK": "true",
        },
        port=9100,
        transport=None,
    )
    assert settings.token() == "secret-9f2"
    assert (settings.wait_seconds, settings.port, settings.transport) == (30, 9100, "stdio")
    assert settings.http_token_fallback is True
    assert "secret-9f2" not in repr(settings)


def test_a_bad_setting_names_its_variable() -> None:
    with pytest.raises(ConfigurationError, match="DESCRIPT_MCP_WAIT_SECONDS"):
        Settings.load({"DESCRIPT_MCP_WAIT_SECONDS": "forever"})


def test_the_database_url_is_a_secret_shown_without_its_credentials() -> None:
    url = "postgresql://descript:hunter2@db.internal:5432/history"
    settings = Settings.load({"DESCRIPT_MCP_DATABASE_URL": url})
    assert settings.database() == url
    assert "hunter2" not in repr(settings)
    assert settings.history_place() == "PostgreSQL at db.internal/history"
    assert Settings.load({}).history_place().endswith("history.sqlite3")


def test_the_oauth_mode_reads_its_settings_from_the_environment() -> None:
    settings = Settings.load(
        {
            "DESCRIPT_MCP_TRANSPORT": "http",
            "DESCRIPT_MCP_AUTH": "oauth",
            "DESCRIPT_MCP_PUBLIC_URL": "https://mcp.example.com/",
            "DESCRIPT_MCP_SECRET_KEY": "k" * 43,
        }
    )
    assert settings.issuer_url() == "https://mcp.example.com"
    assert "k" * 43 not in repr(settings)


@pytest.mark.parametrize(
    ("environment", "problem"),
    [
        ({"DESCRIPT_MCP_AUTH": "oauth"}, "needs --transport http"),
        ({"DESCRIPT_MCP_TRANSPORT": "http", "DESCRIPT_MCP_AUTH": "oauth"}, "needs --public-url"),
        (
            {"DESCRIPT_MCP_PUBLIC_URL": "http://mcp.example.com"},
            "must be https",
        ),
        (
            {"DESCRIPT_MCP_PUBLIC_URL": "https://mcp.example.com/team"},
            "bare origin",
        ),
    ],
)
def test_an_incomplete_oauth_setup_says_what_is_missing(
    environment: dict[str, str], problem: str
) -> None:
    base = {"DESCRIPT_MCP_TRANSPORT": "http", "DESCRIPT_MCP_AUTH": "oauth"}
    if "DESCRIPT_MCP_PUBLIC_URL" not in environment:
        base = {}
    with pytest.raises(ConfigurationError, match=problem):
        Settings.load(base | environment)


@pytest.mark.parametrize(
    ("headers_present", "authorization", "server_token", "fallback", "chosen"),
    [
        (True, "Bearer user-token", "server-token", False, "user-token"),
        (True, "bearer user-token", None, False, "user-token"),
        (True, None, "server-token", True, "server-token"),
        (False, None, "server-token", False, "server-token"),
    ],
)
def test_the_requests_token_wins_and_the_servers_is_a_fallback(
    headers_present: bool,
    authorization: str | None,
    server_token: str | None,
    fallback: bool,
    chosen: str,
) -> None:
    assert choose_token(headers_present, authorization, server_token, fallback) == chosen


def test_http_without_a_token_is_refused_unless_fallback_is_on() -> None:
    with pytest.raises(ToolError, match="Authorization: Bearer"):
        choose_token(True, None, "server-token", False)
    with pytest.raises(ToolError, match="Authorization: Bearer"):
        choose_token(True, "Basic abc", None, True)
    with pytest.raises(ToolError, match="DESCRIPT_API_KEY"):
        choose_token(False, None, None, False)


def test_signed_url_credentials_are_redacted() -> None:
    url = (
        "https://storage.example/b/o.mp4?X-Goog-Signature=abc&X-Goog-Expires=60&alt=media&token=t0k"
    )
    assert redact_url(url) == (
        "https://storage.example/b/o.mp4?X-Goog-Signature=REDACTED"
        "&X-Goog-Expires=REDACTED&alt=media&token=REDACTED"
    )
    assert redact_url("https://example.com/a.mp3") == "https://example.com/a.mp3"
    body = {"add_media": {"a": {"url": "https://s3/x?X-Amz-Credential=k&v=1"}}, "n": 1}
    assert redact_urls(body) == {
        "add_media": {"a": {"url": "https://s3/x?X-Amz-Credential=REDACTED&v=1"}},
        "n": 1,
    }


def test_log_records_lose_callback_secrets_and_url_credentials() -> None:
    """uvicorn logs each request's path, httpx each URL, descript-mcp's own modules their
    own: all of them reach the log redacted."""
    install_log_redaction()
    collect = _Lines()
    access, server = logging.getLogger("uvicorn.access"), logging.getLogger("descript_mcp.server")
    levels = access.level, server.level
    for logger in (access, server):
        logger.addHandler(collect)
        logger.setLevel(logging.INFO)
    try:
        access.info(
            '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "POST", "/callbacks/s3cr3t-cb", "1.1", 204
        )
        server.info("fetching https://cdn.example/a.wav?X-Amz-Signature=s1gn4ture")
    finally:
        for logger, level in zip((access, server), levels, strict=True):
            logger.removeHandler(collect)
            logger.setLevel(level)
    logged = "\n".join(collect.lines)
    assert "/callbacks/REDACTED" in logged
    assert "X-Amz-Signature=REDACTED" in logged
    assert "s3cr3t-cb" not in logged
    assert "s1gn4ture" not in logged


class _Lines(logging.Handler):
    """Keeps each record's message, whatever the loggers' propagation."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
