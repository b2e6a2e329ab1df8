"""What every handler shares while the server runs, and how a handler finds its caller."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp.server import ServerRequestContext
from mcp.server.context import CallNext, HandlerResult
from mcp.server.mcpserver import Context

from descript_mcp.files.quota import SavesByUser
from descript_mcp.history import History
from descript_mcp.history.records import owner_of
from descript_mcp.server.callers import Caller, ClientPool, resolve, resolve_grant
from descript_mcp.server.http.callbacks import CallbackRegistry
from descript_mcp.server.notify import Notifier
from descript_mcp.server.tracker import JobTracker
from descript_mcp.server.upload_links import UploadLinks
from descript_mcp.settings import Settings

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient
    from descript_mcp.server.oauth.provider import DescriptAuthProvider


@dataclass
class ServerState:
    settings: Settings
    history: History
    notifier: Notifier
    tracker: JobTracker
    pool: ClientPool
    callbacks: CallbackRegistry
    oauth: DescriptAuthProvider | None = None
    upload_links: UploadLinks = field(default_factory=UploadLinks)
    saves: SavesByUser = field(default_factory=SavesByUser)  # each user's saves, in turn

    async def owners(self) -> set[str]:
        """Whose tokens this process holds: those it served, its own, and in the OAuth mode
        everyone connected (a replica takes over these owners' jobs)."""
        owners = set(self.pool.by_owner())
        if (token := self.settings.token()) is not None:
            owners.add(owner_of(token))
        if self.oauth is not None:
            owners |= await self.oauth.owners()
        return owners

    async def client_of(self, owner: str) -> DescriptClient | None:
        """A client with this owner's token, if this process has the token."""
        held = self.pool.by_owner().get(owner)
        if held is not None:
            return held
        token = self.settings.token()
        if (token is None or owner_of(token) != owner) and self.oauth is not None:
            token = await self.oauth.owner_token(owner)
        if token is None or owner_of(token) != owner:
            return None
        return await self.pool.get(token)

    async def caller_for(self, request: Any) -> Caller:
        """`request` is the HTTP request's, or None on stdio and in memory."""
        headers = getattr(request, "headers", None)
        if self.oauth is not None and headers is not None:
            return await resolve_grant(self.pool, self.oauth, request.scope.get("user"))
        return await resolve(
            self.pool,
            headers is not None,
            headers.get("authorization") if headers is not None else None,
            self.settings.token(),
            self.settings.http_token_fallback,
        )


def state_of(ctx: Context[Any]) -> ServerState:
    state: ServerState = ctx.request_context.lifespan_context
    return state


async def caller_of(ctx: Context[Any]) -> tuple[ServerState, Caller]:
    state = state_of(ctx)
    return state, await state.caller_for(ctx.request_context.request)


# The request being handled: static resources and completions get no Context from MCPServer.
_current: ContextVar[ServerRequestContext[Any, Any] | None] = ContextVar(
    "descript_mcp_request", default=None
)


async def remember_request(
    ctx: ServerRequestContext[Any, Any], call_next: CallNext
) -> HandlerResult:
    """Server middleware: keep the request's context reachable while it is handled."""
    token = _current.set(ctx)
    try:
        return await call_next(ctx)
    finally:
        _current.reset(token)


async def current_caller() -> tuple[ServerState, Caller]:
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("no MCP request is being handled")
    state: ServerState = ctx.lifespan_context
    return state, await state.caller_for(ctx.request)
