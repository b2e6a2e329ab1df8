"""Removing secrets from what is logged or stored: signatures and tokens in URLs, and the
secret path segment of this server's job callback URLs."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
# Query parameters that carry credentials in signed URLs (S3, GCS, Azure, Dropbox, generic).
_SENSITIVE = (
    "signature",
    "sig",
    "token",
    "key",
    "secret",
    "credential",
    "x-amz-",
    "x-goog-",
    "password",
    "auth",
    "session",
)


# The segment after /callbacks/ is what makes a callback URL unguessable (server.callbacks).
_CALLBACK_SECRET = re.compile(r"(/callbacks/)[^/\s?#\"']+")


def redact_path(text: str) -> str:
    """`text` with the secret of any callback URL path in it replaced."""
    return _CALLBACK_SECRET.sub(rf"\g<1>{REDACTED}", text)


def redact_url(url: str) -> str:
    """The URL with the values of credential-like query parameters replaced."""
    url = redact_path(url)
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (name, REDACTED if any(marker in name.lower() for marker in _SENSITIVE) else value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query, safe=REDACTED)))


def redact_urls(value: Any) -> Any:
    """A copy of a JSON-like value with every http(s) URL string redacted."""
    if isinstance(value, dict):
        return {key: redact_urls(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_urls(item) for item in value]
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return redact_url(value)
    return value


class RedactingFilter(logging.Filter):
    """Removes credentials from URLs in log records (httpx logs every request's URL, uvicorn
    every request's path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_arg(arg) for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact_path(_URL.sub(lambda m: redact_url(m.group(0)), record.msg))
        return True


def _redact_arg(arg: object) -> object:
    if _looks_like_url(arg):
        return redact_url(str(arg))
    if isinstance(arg, str):
        return redact_path(arg)
    return arg


_URL = re.compile(r"https?://[^\s\"'<>]+")


def _looks_like_url(value: object) -> bool:
    text = str(value) if type(value).__name__ == "URL" or isinstance(value, str) else ""
    return text.startswith(("http://", "https://"))


# A logger's filters see only the records made on that very logger, not its children's.
_LOGGERS = (
    "httpx",
    "httpx2",
    "httpcore",
    "uvicorn.access",
    "uvicorn.error",
    "descript_mcp.client",
    "descript_mcp.files",
    "descript_mcp.sandbox",
    "descript_mcp.server",
)


def install_log_redaction() -> None:
    """Redact URLs in the records of the HTTP libraries, the HTTP server and descript-mcp, and
    in whatever else reaches the root logger's handlers."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in _LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
