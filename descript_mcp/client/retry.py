"""When a failed request may be sent again, and after how long.

Safe requests (GET, DELETE of a job) retry on 429, 5xx and transport errors. A job-creating POST
retries only when Descript provably created nothing: a 429, or a connection that never opened.
After a 5xx or a timeout the job may exist, so the client looks for it instead (client.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from descript_mcp.errors import (
    APIConnectionError,
    APIError,
    PublishInProgressError,
    RateLimitError,
    ResponseFormatError,
    ServerError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying: attempts and total time, both."""

    max_attempts: int = 4
    total_timeout: float = 90.0
    backoff_initial: float = 0.5
    backoff_max: float = 8.0
    # A longer Retry-After is handed to the caller instead of waited out.
    max_retry_after: float = 60.0
    # A 429 without Retry-After: a rate limit needs longer pauses than a failure does.
    rate_limit_backoff_initial: float = 1.0
    # Pauses between GET /jobs look-ups for a job whose creation is unconfirmed, and the most
    # time the whole look-up may take.
    recovery_delays: tuple[float, ...] = (0.0, 1.0, 3.0)
    recovery_timeout: float = 60.0

    def backoff(self, retry_number: int) -> float:
        """Exponential backoff with full jitter for the n-th retry (0-based)."""
        ceiling = min(self.backoff_max, self.backoff_initial * 2.0**retry_number)
        return random.uniform(ceiling / 2, ceiling)

    def rate_limit_backoff(self, retry_number: int) -> float:
        """The pause after the n-th 429 without Retry-After (0-based): from 1 s, doubling, never
        shorter than that, with a little jitter on top so clients do not retry in step."""
        base = min(self.backoff_max, self.rate_limit_backoff_initial * 2.0**retry_number)
        return base * random.uniform(1.0, 1.25)


NO_RETRIES = RetryPolicy(max_attempts=1, recovery_delays=(0.0,))


def may_have_created(error: APIError) -> bool:
    """Whether a failed job-creating POST may still have created the job."""
    if isinstance(error, ServerError | ResponseFormatError):  # an unreadable 2xx: it was
        return True
    return isinstance(error, APIConnectionError) and error.may_have_reached_server


def retry_delay(
    policy: RetryPolicy,
    error: APIError,
    *,
    idempotent: bool,
    attempt: int,
    elapsed: float,
) -> float | None:
    """Seconds to wait before attempt `attempt + 1`, or None to give up and raise `error`."""
    if attempt >= policy.max_attempts:
        return None
    delay: float | None
    if isinstance(error, PublishInProgressError):
        delay = None  # waiting out a render is the caller's decision, not a retry's
    elif isinstance(error, RateLimitError):
        retry_after = error.retry_after
        if retry_after is not None and retry_after > policy.max_retry_after:
            return None
        delay = retry_after if retry_after is not None else policy.rate_limit_backoff(attempt - 1)
    elif isinstance(error, ServerError | APIConnectionError):
        if not idempotent and may_have_created(error):
            return None
        delay = policy.backoff(attempt - 1)
    else:
        delay = None
    if delay is None or elapsed + delay > policy.total_timeout:
        return None
    return delay
