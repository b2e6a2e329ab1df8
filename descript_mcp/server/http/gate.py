"""Over HTTP, who may come in, before any MCP handling.

Each request brings a Descript token (`Authorization: Bearer <token>`), unless the server lends
its own. A token is confirmed with Descript (`GET /status`) before anything else is done with it,
and the answer kept for a minute: a made-up token learns nothing about this server (not its
files, not its folders) and opens no session. Sessions are bound to the token that opened them:
the SDK's transports refuse a session to any other (they compare `scope["user"]`). Each token
may hold a bounded number of sessions. The health check and job callbacks (whose unguessable
URL is their credential) stay open.

In the OAuth mode the bearer is an access token this server issued; the SDK checks it, and the
gate only keeps the book of sessions, by the owner of the grant behind the token.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import anyio
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

logger = logging.getLogger(__name__)

Verdict = Literal["valid", "invalid", "unreachable"]
Ask = Callable[[str], Awaitable[Verdict]]
# An admission's answer: the owner to serve, a response that refuses, or None: pass it on.
Admitted = str | ASGIApp | None
# Where the MCP transports listen.
MCP_PATHS = ("/mcp", "/mcp/", "/sse", "/messages", "/messages/")
# How long Descript's word on a token is kept.
CONFIRMED_FOR = 60.0
# Tokens are printable ASCII, and short: anything else is refused without asking Descript.
MAX_TOKEN = 512
# Sessions one token may hold open at once, and how long an idle one lives (the SDK's timeout).
SESSIONS_PER_TOKEN = 100
SESSION_IDLE = 600.0
# The sessions of this many tokens are counted; the least recently seen are forgotten first.
TOKENS_KEPT = 10_000


def plausible(token: str) -> bool:
    return len(token) <= MAX_TOKEN and token.isascii() and token.isprintable() and " " not in token


def user_of(owner: str) -> AuthenticatedUser:
    """The principal the SDK binds sessions to: the token's owner, never the token."""
    return AuthenticatedUser(
        AccessToken(token=owner, client_id="descript-token", scopes=[], subject=owner)
    )


class TokenCheck:
    """Descript's word on tokens, kept for CONFIRMED_FOR, by owner; one question per token at
    a time, however many requests bring it."""

    def __init__(self) -> None:
        self._known: OrderedDict[str, tuple[Verdict, float]] = OrderedDict()
        self._asking: dict[str, anyio.Event] = {}

    async def verdict(self, token: str, ask: Ask) -> Verdict:
        owner = owner_of(token)
        while True:
            known = self._known.get(owner)
            if known is not None and known[1] > time.monotonic():
                return known[0]
            pending = self._asking.get(owner)
            if pending is None:
                break
            await pending.wait()
        self._asking[owner] = done = anyio.Event()
        try:
            verdict = await ask(token)
        finally:
            del self._asking[owner]
            done.set()
        if verdict != "unreachable":
            self._known[owner] = (verdict, time.monotonic() + CONFIRMED_FOR)
            self._known.move_to_end(owner)
            while len(self._known) > TOKENS_KEPT:
                self._known.popitem(last=False)
        return verdict


@dataclass
class _Session:
    seen: float = field(default_factory=time.monotonic)
    in_flight: int = 0


class SessionBook:
    """The sessions each token holds, as this gate sees them pass: opened (an answer carries a
    new Mcp-Session-Id), used, closed (DELETE), or idle past the SDK's timeout."""

    def __init__(self) -> None:
        self.per_token = SESSIONS_PER_TOKEN
        self.idle = SESSION_IDLE
        self._owners: OrderedDict[str, dict[str, _Session]] = OrderedDict()

    def sessions(self, owner: str) -> dict[str, _Session]:
        sessions = self._owners.setdefault(owner, {})
        self._owners.move_to_end(owner)
        while len(self._owners) > TOKENS_KEPT:
            self._owners.popitem(last=False)
        now = time.monotonic()
        for session_id, session in list(sessions.items()):
            if not session.in_flight and now - session.seen > self.idle:
                del sessions[session_id]
        return sessions

    def may_open(self, owner: str) -> bool:
        return len(self.sessions(owner)) < self.per_token


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
            verdict = await self.check.verdict(token, self.ask)
            if verdict == "invalid":
                return _unauthorized()
            if verdict == "unreachable":
                return _unreachable()
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
    keeps the book of each owner's sessions."""

    def __init__(self, app: ASGIApp, admission: TokenAdmission | GrantAdmission) -> None:
        self.app = app
        self.admission = admission
        self.book = SessionBook()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.admission.guards(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
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
        """Pass the request on, keeping the book of the owner's sessions."""
        sessions = self.book.sessions(owner)
        session_id = headers.get("mcp-session-id")
        opens = session_id is None and _opens_session(scope, headers)
        if opens and not self.book.may_open(owner):
            await _too_many(self.book)(scope, receive, send)
            return
        if session_id is None and scope["method"] == "GET" and scope["path"].endswith("/sse"):
            session_id = f"sse-{id(scope)}"  # an SSE connection is a session while it lasts
            sessions[session_id] = _Session()
        session = sessions.get(session_id) if session_id else None
        status = 0

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                opened = Headers(raw=message.get("headers", [])).get("mcp-session-id")
                if opens and opened and status < 400:
                    sessions[opened] = _Session()
            await send(message)

        if session is not None:
            session.in_flight += 1
        try:
            await self.app(scope, receive, watching)
        finally:
            if session is not None:
                session.in_flight -= 1
                session.seen = time.monotonic()
                ended = scope["method"] == "DELETE" and status < 400
                if ended or str(session_id).startswith("sse-"):
                    sessions.pop(str(session_id), None)


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


def _too_many(book: SessionBook) -> JSONResponse:
    return JSONResponse(
        {
            "error": "too_many_sessions",
            "message": f"This token has {book.per_token} sessions open: end one (DELETE) or "
            f"let an idle one expire ({book.idle / 60:g} minutes).",
        },
        status_code=429,
        headers={"Retry-After": str(int(book.idle))},
    )
