"""Over HTTP, the server as a load balancer and an orchestrator see it: the probes, the requests
in flight, and a graceful stop. This app sits in front of every other.

`/health` answers 200 while the process lives and its lifespan runs: a failure means restart
it. `/ready` answers 200 only while it can serve: its lifespan runs, it is not stopping, and
among replicas the database answers and the listener listens; a balancer sends requests to it
only then. Neither needs a token, and neither touches the database.

`drain` (on SIGTERM) stops what would bind a client to this replica, new sessions and new
streams (503, which the shipped HAProxy retries on another replica), hands the jobs' leases
over at once, ends the waits of the calls in flight with what is known, and closes the open
streams, whose clients reconnect elsewhere; then it lets the calls in flight finish, up to a
deadline. Other requests are still served meanwhile: without a wait, they are short. Every
answer given while draining ends its connection: a client's next request opens a new one, which
a stopped replica refuses (safe to send again, or for a balancer to send elsewhere), where a
kept one would be cut under it (a POST that may or may not have run).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Protocol

import anyio
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from descript_mcp._version import __version__

if TYPE_CHECKING:
    from descript_mcp.server.state import ServerState

logger = logging.getLogger(__name__)

MCP_PATHS = ("/mcp", "/mcp/", "/sse")
LISTEN = "subscriptions/listen"


class Served(Protocol):
    """What is asked of the server (`app.DescriptServer`)."""

    state: ServerState | None  # while its lifespan runs
    draining: bool

    def ready_parts(self) -> dict[str, bool]: ...

    def drain(self) -> None: ...

    def sessions_open(self) -> int: ...


class Lifecycle:
    def __init__(self, app: ASGIApp, server: Served, metrics: ASGIApp | None = None) -> None:
        self.app = app
        self.server = server
        self.metrics = metrics  # served at /metrics when the setting puts them here
        self.in_flight = 0
        self._idle = anyio.Event()
        self._streams: dict[int, tuple[str, anyio.CancelScope]] = {}

    def streams(self) -> Counter[str]:
        """The streams open now, by kind: "listen" (subscriptions/listen), "session" (a
        session's own GET stream), "sse" (the SSE transport's)."""
        return Counter(kind for kind, _ in self._streams.values())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._closing_while_draining(send)
        path = scope["path"]
        if path == "/health":
            await self._health()(scope, receive, send)
        elif path == "/ready":
            await self._ready()(scope, receive, send)
        elif path == "/metrics" and self.metrics is not None:
            await self.metrics(scope, receive, send)
        elif path in MCP_PATHS and (kind := _stream(scope)) is not None:
            await self._stream(kind, scope, receive, send)
        elif self.server.draining and _opens_session(scope):
            await _stopping()(scope, receive, send)
        else:
            await self._counted(scope, receive, send)

    def _closing_while_draining(self, send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and self.server.draining:
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                message = {**message, "headers": [*kept, (b"connection", b"close")]}
            await send(message)

        return sending

    def _health(self) -> JSONResponse:
        answer: dict[str, object] = {"status": "ok", "version": __version__}
        state = self.server.state
        if state is None:
            return JSONResponse({"status": "failed", "version": __version__}, status_code=503)
        if state.tracker.cluster is not None:
            answer["replica"] = state.tracker.cluster.replica
        return JSONResponse(answer)

    def _ready(self) -> JSONResponse:
        parts = self.server.ready_parts()
        ready = all(parts.values())
        return JSONResponse(
            {"ready": ready, "checks": parts},
            status_code=200 if ready else 503,
            headers={"Cache-Control": "no-store"},
        )

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            if self.in_flight == 0:
                self._idle.set()
                self._idle = anyio.Event()

    async def _stream(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        """A stream, open until its client leaves or the server drains: then it is ended
        properly, so its client reconnects (elsewhere)."""
        if self.server.draining:
            await _stopping()(scope, receive, send)
            return
        started = ended = False

        async def watching(message: Message) -> None:
            nonlocal started, ended
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                ended = True
            await send(message)

        with anyio.CancelScope() as closing:
            self._streams[id(closing)] = (kind, closing)
            try:
                await self.app(scope, receive, watching)
            finally:
                del self._streams[id(closing)]
        if closing.cancelled_caught:
            if not started:
                await _stopping()(scope, receive, send)
            elif not ended:
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def drain(self, deadline: float) -> None:
        """Stop as described above; return once the calls in flight are done, or after
        `deadline` seconds."""
        if self.server.draining:
            return
        logger.warning(
            "stopping: handing jobs over, closing %d streams, finishing %d requests",
            len(self._streams),
            self.in_flight,
        )
        self.server.drain()
        self._close("listen", "session")
        with anyio.move_on_after(deadline) as late:
            while self.in_flight:
                await self._idle.wait()
        # The SSE transport answers calls on its stream: it closes once they are done.
        self._close("sse")
        if late.cancelled_caught:
            logger.warning("stopping with %d requests unfinished", self.in_flight)

    def _close(self, *kinds: str) -> None:
        for kind, closing in list(self._streams.values()):
            if kind in kinds:
                closing.cancel()


def _stream(scope: Scope) -> str | None:
    """What kind of stream the request opens, if it opens one."""
    if scope["method"] == "GET":
        return "sse" if scope["path"] == "/sse" else "session"
    if scope["method"] == "POST" and Headers(scope=scope).get("mcp-method") == LISTEN:
        return "listen"
    return None


def _opens_session(scope: Scope) -> bool:
    """An initialize of the 2025-11-25 protocol: a POST to /mcp without a session, and with no
    version or one that opens sessions."""
    if scope["method"] != "POST" or scope["path"] not in MCP_PATHS:
        return False
    headers = Headers(scope=scope)
    version = headers.get("mcp-protocol-version")
    handshake = version is None or version in HANDSHAKE_PROTOCOL_VERSIONS
    return handshake and headers.get("mcp-session-id") is None


def _stopping() -> JSONResponse:
    return JSONResponse(
        {
            "error": "unavailable",
            "message": "This server is stopping: connect again (another replica answers).",
        },
        status_code=503,
        headers={"Retry-After": "1", "Connection": "close"},
    )
