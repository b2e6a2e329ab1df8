"""Removing secrets from what is logged or stored: signatures and tokens in URLs."""

from __future__ import annotations

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
