"""Over HTTP, who may come in, before any MCP handling.

Each request brings a Descript token (`Authorization: Bearer <token>`), unless the server lends
its own. A token is confirmed with Descript (`GET /status`) before anything else is done with it,
and the answer kept for a minute: a made-up token learns nothing about this server (not its
files, not its folders) and opens no session. Sessions are bound to the token that opened them:
the SDK's transports refuse a session to any other (they compare `scope["user"]`). Each token
may hold a bounded number of sessions, and the server a bounded number over all tokens; a
session is reserved before the request that opens it runs, so the bounds hold however many
arrive at once. A token this server has never seen valid is asked about at a bounded rate per
client address, and a refused one is remembered a little while: made-up tokens do not each
become a request to Descript. The health check and job callbacks (whose unguessable URL is
their credential) stay open.

In the OAuth mode the bearer is an access token this server issued; the SDK checks it, and the
gate only keeps the book of sessions, by the owner of the grant behind the token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from descript_mcp.client.ledger import InMemoryLedger
from descript_mcp.client.models import DriveStatus
from descript_mcp.errors import AuthenticationError, DescriptError, PermissionDeniedError
from descript_mcp.history.records import owner_of
from descript_mcp.server.callers import ClientFactory, bearer_token
from descript_mcp.server.http.callbacks import CALLBACK_PATH
from descript_mcp.server.http.limits import client_address
from descript_mcp.server.http.tokens import Ask, TokenCheck, Verdict
from descript_mcp.server.request_reads import one_request

logger = logging.getLogger(__name__)

# An admission's answer: the owner to serve, a response that refuses, or None: pass it on.
Admitted = str | ASGIApp | None
# Where the MCP transports listen.
MCP_PATHS = ("/mcp", "/mcp/", "/sse", "/messages", "/messages/")
# Tokens are printable ASCII, and short: anything else is refused without asking Descript.
MAX_TOKEN = 512
# Sessions one token may hold open at once (well under the server's max_sessions over all
# tokens), and how long an idle one lives (the SDK's timeout).
SESSIONS_PER_TOKEN = 100
SESSION_IDLE = 600.0
# How often, at most, the whole book is swept of idle sessions when it looks full.
SWEEP_EVERY = 1.0


def plausible(token: str) -> bool:
    return len(token) <= MAX_TOKEN and token.isascii() and token.isprintable() and " " not in token


def user_of(owner: str) -> AuthenticatedUser:
    """The principal the SDK binds sessions to: the token's owner, never the token."""
    return AuthenticatedUser(
        AccessToken(token=owner, client_id="descript-token", scopes=[], subject=owner)
    )


@dataclass
class _Session:
    seen: float = field(default_factory=time.monotonic)
    in_flight: int = 0


@dataclass(frozen=True)
class Full:
    """Why a session cannot be opened: this token's bound, or the server's."""

    status: int
    error: str
    message: str
    retry_after: int

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "message": self.message},
            status_code=self.status,
            headers={"Retry-After": str(self.retry_after)},
        )


class SessionBook:
    """The sessions each token holds, as this gate sees them pass: reserved before the request
    that opens one runs, opened (its answer carries the new Mcp-Session-Id), used, closed
    (DELETE), or idle past the SDK's timeout. A stream that lasts a request (an SSE connection,
    a 2026-07-28 `subscriptions/listen`) is a session while it lasts (`hold`). An owner with
    no session is forgotten, so the book is never larger than the sessions it counts."""

    def __init__(self, most: int) -> None:
        self.per_token = SESSIONS_PER_TOKEN
        self.most = most
        self.idle = SESSION_IDLE
        self._owners: dict[str, dict[str, _Session]] = {}
        self._held = 0
        self._swept = float("-inf")
        self._reserved = 0  # numbers the reservations

    def held(self) -> int:
        """Sessions held (and reserved) over all tokens."""
        return self._held

    def sessions(self, owner: str) -> dict[str, _Session]:
        """The owner's sessions, those idle past the timeout removed."""
        sessions = self._owners.get(owner, {})
        now = time.monotonic()
        for session_id, session in list(sessions.items()):
            if not session.in_flight and now - session.seen > self.idle:
                self._remove(owner, session_id)
        return sessions

    def reserve(self, owner: str) -> str | Full:
        """A session's place, held before the request that opens it runs: its key, or why
        there is none."""
        if len(self.sessions(owner)) >= self.per_token:
            return Full(
                429,
                "too_many_sessions",
                f"This token has {self.per_token} sessions open: end one (DELETE) or let an "
                f"idle one expire ({self.idle / 60:g} minutes).",
                int(self.idle),
            )
        if self._held >= self.most and time.monotonic() - self._swept > SWEEP_EVERY:
            self._swept = time.monotonic()
            for other in list(self._owners):
                self.sessions(other)
        if self._held >= self.most:
            return Full(
                503,
                "server_full",
                f"This server has the most sessions it holds open for all its users "
                f"({self.most}). Retry in a minute, as idle sessions end after "
                f"{self.idle / 60:g} minutes; if this lasts, tell the server's operator "
                "(DESCRIPT_MCP_MAX_SESSIONS sets the bound).",
                60,
            )
        self._reserved += 1
        key = f"reserved-{self._reserved}"
        self._owners.setdefault(owner, {})[key] = _Session(in_flight=1)
        self._held += 1
        return key

    def opened(self, owner: str, key: str, session_id: str) -> None:
        """The reserved place is the session `session_id` now."""
        sessions = self._owners.get(owner)
        if sessions is not None and sessions.pop(key, None) is not None:
            sessions[session_id] = _Session()

    def release(self, owner: str, key: str) -> None:
        """The session (or reservation) `key` ended."""
        self._remove(owner, key)

    def _remove(self, owner: str, key: str) -> None:
        sessions = self._owners.get(owner)
        if sessions is None or sessions.pop(key, None) is None:
            return
        self._held -= 1
        if not sessions:
            del self._owners[owner]

    @contextmanager
    def hold(self, owner: str) -> Iterator[str | None]:
        """A session held for as long as the block runs: yields None, or, when there is no
        room, why not (and holds nothing)."""
        reserved = self.reserve(owner)
        if isinstance(reserved, Full):
            yield reserved.message
            return
        try:
            yield None
        finally:
            self.release(owner, reserved)


class TokenAdmission:
    """Who a request is when it brings a Descript token (or the server lends its own)."""

    def __init__(self, ask: Ask, *, lent_token: str | None) -> None:
        self.ask = ask
        self.lent_token = lent_token  # the server's own, for requests without one (opt-in)
        self.check = TokenCheck()

    def guards(self, path: str) -> bool:
        return not _open_path(path)

    async def __call__(self, scope: Scope, headers: Headers) -> Admitted:
        token = bearer_token(headers.get("authorization"))
        if token is None and self.lent_token is not None:
            token = self.lent_token
        elif token is None or not plausible(token):
            return _unauthorized()
        else:
            address = client_address(scope)
            verdict = await self.check.verdict(token, self.ask, address)
            if verdict == "invalid":
                return _unauthorized()
            if verdict == "unreachable":
                return _unreachable()
            if verdict == "throttled":
                return _throttled(self.check.addresses.retry_after(address))
        owner = owner_of(token)
        scope["user"] = user_of(owner)
        return owner


class GrantAdmission:
    """Who a request is in the OAuth mode: the owner of the grant its access token belongs
    to. A request without a live token is passed on: the SDK answers it with a 401 that
    points at the resource metadata."""

    def __init__(self, owner_of_access: Callable[[str], Awaitable[str | None]]) -> None:
        self.owner_of_access = owner_of_access

    def guards(self, path: str) -> bool:
        return path in MCP_PATHS

    async def __call__(self, scope: Scope, headers: Headers) -> Admitted:
        token = bearer_token(headers.get("authorization"))
        if token is None or not plausible(token):
            return None
        return await self.owner_of_access(token)


class Gate:
    """The ASGI middleware in front of the MCP transports: admits a request (`admission`), and
    keeps the book of each owner's sessions, at most `most_sessions` over all."""

    def __init__(
        self,
        app: ASGIApp,
        admission: TokenAdmission | GrantAdmission,
        *,
        most_sessions: int,
    ) -> None:
        self.app = app
        self.admission = admission
        self.book = SessionBook(most_sessions)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.admission.guards(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        with one_request():  # what the admission reads, the SDK's checks behind it reuse
            admitted = await self.admission(scope, headers)
            if admitted is None:
                await self.app(scope, receive, send)
            elif isinstance(admitted, str):
                await self._counted(admitted, headers, scope, receive, send)
            else:
                await admitted(scope, receive, send)

    async def _counted(
        self, owner: str, headers: Headers, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Pass the request on, keeping the book of the owner's sessions: a request that may
        open one, or an SSE connection (a session while it lasts), reserves its place first."""
        session_id = headers.get("mcp-session-id")
        opens = session_id is None and _opens_session(scope, headers)
        streams = session_id is None and scope["method"] == "GET" and scope["path"].endswith("/sse")
        reserved = None
        if opens or streams:
            place = self.book.reserve(owner)
            if isinstance(place, Full):
                await place.response()(scope, receive, send)
                return
            reserved = place
        session = self.book.sessions(owner).get(session_id) if session_id else None
        status = 0

        async def watching(message: Message) -> None:
            nonlocal status, reserved
            if message["type"] == "http.response.start":
                status = message["status"]
                opened = Headers(raw=message.get("headers", [])).get("mcp-session-id")
                if opens and reserved and opened and status < 400:
                    self.book.opened(owner, reserved, opened)
                    reserved = None
            await send(message)

        if session is not None:
            session.in_flight += 1
        try:
            await self.app(scope, receive, watching)
        finally:
            if reserved is not None:  # not opened, or a stream that ended
                self.book.release(owner, reserved)
            if session is not None:
                session.in_flight -= 1
                session.seen = time.monotonic()
                if scope["method"] == "DELETE" and status < 400:
                    self.book.release(owner, str(session_id))


async def drive_of(factory: ClientFactory, token: str) -> DriveStatus | Verdict:
    """Ask Descript about a token (GET /status), with a client of its own: one that is kept
    for serving is made only once the token works. The drive it belongs to, or why not."""
    try:
        async with factory(token, ledger=InMemoryLedger()) as client:
            return await client.get_status()
    except (AuthenticationError, PermissionDeniedError):
        return "invalid"
    except DescriptError as error:
        logger.info("a token could not be confirmed: %s", type(error).__name__)
        return "unreachable"


def confirm_with(factory: ClientFactory) -> Ask:
    async def ask(token: str) -> Verdict:
        drive = await drive_of(factory, token)
        return "valid" if isinstance(drive, DriveStatus) else drive

    return ask


def _opens_session(scope: Scope, headers: Headers) -> bool:
    """An initialize of the 2025-11-25 protocol: a POST without a session or a newer version."""
    version = headers.get("mcp-protocol-version")
    handshake = version is None or version in HANDSHAKE_PROTOCOL_VERSIONS
    return scope["method"] == "POST" and handshake and not scope["path"].startswith("/messages")


def _open_path(path: str) -> bool:
    return path == "/health" or path.startswith(f"{CALLBACK_PATH}/")


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        {
            "error": "unauthorized",
            "message": "Send a valid Descript API token (Descript → Settings → API Tokens) as "
            "Authorization: Bearer <token>.",
        },
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="descript-mcp"'},
    )


def _unreachable() -> JSONResponse:
    return JSONResponse(
        {
            "error": "unavailable",
            "message": "Descript could not be reached to check the token. Retry in a minute.",
        },
        status_code=503,
        headers={"Retry-After": "30"},
    )


def _throttled(retry_after: int) -> JSONResponse:
    return JSONResponse(
        {
            "error": "too_many_unknown_tokens",
            "message": "Too many tokens this server does not know came from your address. "
            f"Retry in {retry_after} s with a valid Descript API token (Descript → Settings → "
            "API Tokens).",
        },
        status_code=429,
        headers={"Retry-After": str(retry_after)},
    )
