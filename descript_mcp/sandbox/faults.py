"""Scripted faults: what goes wrong with a route, before its handler runs or after (the work
is done, the answer is lost). "502 after the job was created" is the case that costs users
money. Faults match by method and path (and, if given, the token that sent the request) and fire
with a probability, a number of times.

Kinds: `status` (an error answer; 429 carries Retry-After), `latency` (a pause, then the normal
answer), `drop` (the connection breaks mid-answer), `malformed` (a 2xx whose JSON is cut),
`stuck` (a job-creating request whose job then never finishes). Any kind waits its `latency`
first: a 502 after 30 s is a gateway that gave up. A fault that `holds` waits, before the
handler or before the answer, until the test calls `release()`: how a test has another actor
act while a request is in flight, without guessing how long that takes.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Literal

import anyio
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from descript_mcp.sandbox.config import SandboxConfig
from descript_mcp.sandbox.errors import ApiError

FaultKind = Literal["status", "latency", "drop", "malformed", "stuck"]


@dataclass
class Fault:
    method: str
    path: str  # a regular expression matched against the path after /v1
    status: int = 502
    when: Literal["before", "after"] = "before"
    times: int | None = 1  # None: no limit
    retry_after: float | None = None
    kind: FaultKind = "status"
    probability: float = 1.0
    latency: float = 0.0
    token: str | None = None  # only requests sent with this token
    hits: int = 0
    _fired: anyio.Event | None = field(default=None, repr=False, compare=False)
    holds: bool = False  # until release()
    released: bool = False
    _release: anyio.Event | None = field(default=None, repr=False, compare=False)

    async def fired(self) -> None:
        """Return once the fault has fired (at once if it has already)."""
        if self.hits:
            return
        if self._fired is None:
            self._fired = anyio.Event()
        await self._fired.wait()

    def release(self) -> None:
        """Let the requests the fault holds go on (and any it would hold later)."""
        self.released = True
        if self._release is not None:
            self._release.set()

    async def pause(self) -> None:
        """What the fault does before it answers: its latency, then its hold."""
        await anyio.sleep(self.latency)
        if self.holds and not self.released:
            if self._release is None:
                self._release = anyio.Event()
            await self._release.wait()

    def matches(self, method: str, path: str, when: str, token: str | None, chance: float) -> bool:
        return (
            self.when == when
            and (self.times is None or self.hits < self.times)
            and self.method == method
            and (self.token is None or self.token == token)
            and re.fullmatch(self.path, path) is not None
            and chance < self.probability
        )

    def response(self) -> Response:
        match self.kind:
            case "drop":
                return DroppedResponse()
            case "malformed":
                return Response(b'{"job_id": "', status_code=200, media_type="application/json")
        headers = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
        if self.status == 429:
            return ApiError(429, "Rate limit exceeded", headers=headers).response()
        body = {
            "error": "bad_gateway" if self.status == 502 else "internal_error",
            "message": "Injected fault",
        }
        return JSONResponse(body, status_code=self.status, headers=headers)


class DroppedResponse(Response):
    """Headers promise a body that never comes: the client sees the connection break."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"job', "more_body": True})
        raise ConnectionAbortedError("sandbox fault: connection dropped")


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)
    seed: int = 0
    injected: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def take(self, method: str, path: str, when: str, token: str | None = None) -> Fault | None:
        """The first fault that fires for this request at this point, counted as injected."""
        for fault in self.faults:
            if fault.matches(method, path, when, token, self._random.random()):
                fault.hits += 1
                if fault._fired is not None:
                    fault._fired.set()
                label = f"{fault.kind} {fault.status}" if fault.kind == "status" else fault.kind
                self.injected[f"{label} {fault.when}"] += 1
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
