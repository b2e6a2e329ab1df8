"""Removing secrets from what is logged or stored: signatures and tokens in URLs, and the
secret path segment of this server's job callback URLs."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
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


_URL = re.compile(r"https?://[^\s\"'<>]+")
# An Authorization header's value, wherever it is echoed.
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")


def redact_text(text: str) -> str:
    """`text` with every URL's credentials, callback secret and bearer token replaced."""
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    return _BEARER.sub(rf"\g<1>{REDACTED}", redact_path(text))


def install_log_redaction() -> None:
    """From now on every log record made in this process, by any logger, loses credentials as
    it is made: its message, formatted with its arguments whatever their type (strings, bytes,
    URL objects), and the text of its exception. No handler, however and whenever added, sees
    them; the SSE library, for one, logs every chunk it sends, signed URLs and all."""
    make = logging.getLogRecordFactory()
    if not isinstance(make, _Redacting):
        logging.setLogRecordFactory(_Redacting(make))


class _Redacting:
    """A log record factory around another: each record it makes is redacted."""

    def __init__(self, make: Callable[..., logging.LogRecord]) -> None:
        self._make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._make(*args, **kwargs)
        _redact(record)
        return record


def _redact(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the message: logging reports it itself
        return
    redacted = redact_text(message)
    if redacted != message:
        record.msg, record.args = redacted, None
    if record.exc_info and record.exc_info[1] is not None:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
