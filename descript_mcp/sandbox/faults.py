"""Scripted faults: make a route fail before its handler runs, or after (the work is done,
the answer is lost). "502 after the job was created" is the case that costs users money."""

from __future__ import annotations

import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from starlette.responses import JSONResponse, Response

from descript_mcp.sandbox.config import SandboxConfig
from descript_mcp.sandbox.errors import ApiError


@dataclass
class Fault:
    method: str
    path: str  # a regular expression matched against the path after /v1
    status: int = 502
    when: Literal["before", "after"] = "before"
    times: int = 1
    retry_after: float | None = None
    hits: int = 0

    def matches(self, method: str, path: str, when: str) -> bool:
        return (
            self.when == when
            and self.hits < self.times
            and self.method == method
            and re.fullmatch(self.path, path) is not None
        )

    def response(self) -> Response:
        self.hits += 1
        headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
        if self.status == 429:
            return ApiError(429, "Rate limit exceeded", headers=headers).response()
        body = {
            "error": "bad_gateway" if self.status == 502 else "internal_error",
            "message": "Injected fault",
        }
        return JSONResponse(body, status_code=self.status, headers=headers)


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def take(self, method: str, path: str, when: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path, when):
                return fault
        return None


class RateLimiter:
    """At most `rate_limit_requests` per token in any `rate_limit_window` seconds, else 429."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._seen: dict[str, deque[float]] = {}

    def check(self, token: str) -> None:
        limit, window = self.config.rate_limit_requests, self.config.rate_limit_window
        moment = time.monotonic()
        seen = self._seen.setdefault(token, deque())
        while seen and seen[0] <= moment - window:
            seen.popleft()
        if len(seen) >= limit:
            wait = max(1, math.ceil(seen[0] + window - moment)) if seen else math.ceil(window)
            raise ApiError(
                429,
                f"Rate limit exceeded. Retry after {wait} seconds.",
                headers={
                    "Retry-After": str(wait),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Consumed": str(len(seen)),
                },
            )
        seen.append(moment)
