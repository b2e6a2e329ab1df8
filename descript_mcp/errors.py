"""Every exception descript-mcp raises on purpose.

    DescriptError
    ├── ConfigurationError            no token, bad base URL: raised before any request
    ├── LocalFileError                a local path that may not, or cannot, be used
    ├── InvalidIdError                an id that cannot be Descript's: sent nowhere
    ├── APIError                      something went wrong talking to Descript
    │   ├── APIConnectionError        the request may not have reached Descript
    │   │   └── APITimeoutError
    │   ├── APIStatusError            Descript answered with an error status
    │   │   ├── BadRequestError           400 invalid_input
    │   │   ├── AuthenticationError       401 unauthorized
    │   │   ├── PaymentRequiredError      402 payment_required
    │   │   ├── PermissionDeniedError     403 forbidden
    │   │   ├── NotFoundError             404 not_found
    │   │   ├── ConflictError             409 conflict
    │   │   ├── UnprocessableEntityError  422 unprocessable_entity
    │   │   ├── RateLimitError            429 rate_limit_exceeded
    │   │   │   └── PublishInProgressError    429 rate_limited: one publish per project
    │   │   └── ServerError               5xx
    │   ├── UnconfirmedSubmissionError  a job-creating POST failed ambiguously; no job proven its
    │   ├── UploadURLsLostError       its job was made, but the answer with the upload URLs lost
    │   └── ResponseFormatError       a 2xx body that does not match the documented shape
    ├── DuplicateSubmissionError      the same submission was made moments ago: not sent again
    ├── SealedSecretError             a stored secret the server's key cannot open
    └── HistoryUnavailableError       the history's database could not be reached, for now

Messages state the fact and the next step. They never contain the API token.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any


class DescriptError(Exception):
    """Base class of every error raised by descript-mcp."""


class ConfigurationError(DescriptError):
    """The client is not configured well enough to send a request."""


class LocalFileError(DescriptError):
    """A local path that may not, or cannot, be used: outside the allowed folders, missing, not
    a regular file, or changed between its check and its use."""


class InvalidIdError(DescriptError):
    """An id that cannot be one of Descript's (empty, too long, a `.` or `..`, a separator or
    a space in it): refused before any request, since in a URL it would name another route."""


# Descript's ids are UUIDs, or short prefixed strings around them.
MAX_ID = 200
_NOT_IN_IDS = re.compile(r"[/\\?#%\s]")


def check_id(value: str, what: str) -> None:
    """Raise InvalidIdError unless `value` can be an id (`what`: "job id", "project id")."""
    if not value:
        raise InvalidIdError(f"A {what} is required.")
    if len(value) > MAX_ID:
        raise InvalidIdError(f"That is not a {what}: Descript's are at most {MAX_ID} characters.")
    if value.strip(".") == "" or not value.isprintable() or _NOT_IN_IDS.search(value):
        raise InvalidIdError(
            f"'{value}' is not a {what}: ids hold no separators, spaces or dot segments."
        )


class APIError(DescriptError):
    """A request to the Descript API did not succeed."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = path


class APIConnectionError(APIError):
    """No usable answer came back: DNS, connect, TLS, or the connection dropped."""

    def __init__(
        self, message: str, *, method: str, path: str, may_have_reached_server: bool
    ) -> None:
        super().__init__(message, method=method, path=path)
        # False only when the request provably never left (connect refused, pool timeout).
        self.may_have_reached_server = may_have_reached_server


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIStatusError(APIError):
    """Descript answered with an error status; `error_code` and `message` are its own."""

    status_code: int = 0

    def __init__(
        self,
        *,
        status_code: int,
        error_code: str | None,
        message: str,
        method: str,
        path: str,
        details: list[dict[str, Any]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        text = f"Descript returned {status_code}" + (f" {error_code}" if error_code else "")
        super().__init__(f"{text}: {message}", method=method, path=path)
        self.status_code = status_code
        self.error_code = error_code
        self.message = message
        self.details = details or []
        self.headers = dict(headers or {})
        self.body = dict(body or {})


class BadRequestError(APIStatusError):
    """400: the request was malformed; `message` and `details` say which field."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, wrong or revoked."""


class PaymentRequiredError(APIStatusError):
    """402: the drive has too few media minutes or AI credits for this job."""


class PermissionDeniedError(APIStatusError):
    """403: the token's drive or the user's role does not allow this."""


class NotFoundError(APIStatusError):
    """404: no such project, composition, job or published page (or search is not enabled)."""


class ConflictError(APIStatusError):
    """409: the published project is still processing or failed (`state`)."""

    @property
    def state(self) -> str | None:
        value = self.body.get("state")
        return value if isinstance(value, str) else None


class UnprocessableEntityError(APIStatusError):
    """422: well-formed but impossible, e.g. publishing an audio-only composition as video."""


class RateLimitError(APIStatusError):
    """429: too many requests; `retry_after` is how many seconds Descript asked us to wait."""

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))

    @property
    def rate_limit_remaining(self) -> int | None:
        return _int_or_none(self.headers.get("x-ratelimit-remaining"))

    @property
    def rate_limit_consumed(self) -> int | None:
        return _int_or_none(self.headers.get("x-ratelimit-consumed"))


class PublishInProgressError(RateLimitError):
    """429 rate_limited: a publish job is already running for this project."""


class ServerError(APIStatusError):
    """5xx: Descript failed. For a job-creating POST the job may exist anyway."""


class UnconfirmedSubmissionError(APIError):
    """A job-creating request failed after it may have reached Descript, and no job could be
    shown to be its own. `candidates` are the jobs that could be it (created while it was in
    flight, where it asked); `nearby` the other jobs of its kind and place from around then,
    most likely another client's but not shown to be: between them, every job the search read
    that may be this request's. `cause` is the request's own failure (a failure while looking
    for the job is chained as `__cause__`). Submitting again could create a duplicate, paid
    job."""

    def __init__(
        self,
        message: str,
        *,
        method: str,
        path: str,
        cause: APIError,
        candidates: list[str],
        nearby: list[str],
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.cause = cause
        self.candidates = candidates
        self.nearby = nearby


class UploadURLsLostError(APIError):
    """Descript created an import with direct uploads, and the job was proven this request's,
    but the answer carrying its upload URLs was lost: the files can never be sent. The job was
    cancelled (`cancelled`), so submitting again is safe; if cancelling failed, it still waits.
    `job` is the job as Descript listed it."""

    def __init__(
        self, message: str, *, method: str, path: str, cause: APIError, job: Any, cancelled: bool
    ) -> None:
        super().__init__(message, method=method, path=path)
        self.cause = cause
        self.job = job
        self.cancelled = cancelled


class DuplicateSubmissionError(DescriptError):
    """The same submission (by its dedupe key) was made within the guard's window and Descript
    accepted it, or it is still being sent, or it is unconfirmed: nothing was sent. `earlier`
    is that submission (its `job_id`, `state`, `sent_at` and `candidates`)."""

    def __init__(self, message: str, *, earlier: Any) -> None:
        super().__init__(message)
        self.earlier = earlier


class SealedSecretError(DescriptError):
    """A secret sealed under another key (the secret key changed) or altered in storage: those
    who stored it connect again."""


class HistoryUnavailableError(DescriptError):
    """The shared history's database could not be reached: restarting, failing over, or the
    connection was cut. The same call works once the database answers again."""


class ResponseFormatError(APIError):
    """Descript answered 2xx with a body we cannot read."""


STATUS_TO_ERROR: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def error_class_for(
    status_code: int, error_code: str | None, message: str = ""
) -> type[APIStatusError]:
    """The exception class for an error response. The publish lock is known by its code and by
    its message, so a change of either on Descript's side cannot make it "retry later"."""
    if status_code == 429 and (error_code == "rate_limited" or _is_publish_lock(message)):
        return PublishInProgressError
    if status_code >= 500:
        return ServerError
    return STATUS_TO_ERROR.get(status_code, APIStatusError)


def _is_publish_lock(message: str) -> bool:
    text = message.lower()
    return "publish" in text and "already running" in text


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if unusable."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
        return max(seconds, 0.0)
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        return None
    return seconds


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
