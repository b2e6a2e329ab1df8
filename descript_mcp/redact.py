"""Removing secrets from what is logged or stored: signatures and tokens in URLs."""

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


def redact_url(url: str) -> str:
    """The URL with the values of credential-like query parameters replaced."""
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
    """Removes credentials from URLs in log records (httpx logs every request's URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(arg)) if _looks_like_url(arg) else arg for arg in record.args
            )
        if isinstance(record.msg, str) and "://" in record.msg:
            record.msg = _URL.sub(lambda m: redact_url(m.group(0)), record.msg)
        return True


_URL = re.compile(r"https?://[^\s\"'<>]+")


def _looks_like_url(value: object) -> bool:
    text = str(value) if type(value).__name__ == "URL" or isinstance(value, str) else ""
    return text.startswith(("http://", "https://"))


def install_log_redaction() -> None:
    """Redact URLs in the records of the HTTP libraries and of descript-mcp itself."""
    for name in ("httpx", "httpx2", "httpcore", "descript_mcp"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
