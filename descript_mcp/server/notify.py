"""Telling subscribed clients that a resource changed, in both protocol eras, and only the
owner of a job: a user hears about the jobs started with their own token, never another's.

2026-07-28 clients listen through `subscriptions/listen`: each owner has a bus and a listen
handler of their own while they have a stream open. 2025-11-25 clients use
`resources/subscribe`, which MCPServer does not serve, so its handlers are registered on the
low-level server here. Either way, only `descript://jobs` and the caller's own
`descript://jobs/{job_id}` can be named, a bounded number per session or stream; a session's
subscriptions go with it (they are kept by its connection, weakly), and an owner's bus with
their last stream. A token holds a few listen streams at most, and over HTTP each counts as
one of its sessions while it lasts (`budget`, the gate's book).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from mcp import MCPError
from mcp.server import MCPServer, ServerRequestContext
from mcp.server.connection import Connection
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

logger = logging.getLogger(__name__)

JOBS_URI = "descript://jobs"
# Longer than any job's URI (ids are at most MAX_ID characters).
MAX_URI = 512
SUBSCRIPTIONS_PER_SESSION = 100
# Resources one 2026-07-28 listen stream may name, and the streams one token may hold open.
URIS_PER_STREAM = 100
STREAMS_PER_TOKEN = 10


class SessionBudget(Protocol):
    """Who counts the sessions a caller holds (over HTTP, the gate's book)."""

    def hold(self, owner: str) -> AbstractContextManager[str | None]:
        """Holds one while the block runs: None, or why there is no room (holding nothing)."""
        ...


@dataclass
class _Subscriber:
    owner: str
    uris: set[str] = field(default_factory=set)


@dataclass
class _Listening:
    """An owner's listen streams: one bus, one handler, while any stream is open."""

    bus: InMemorySubscriptionBus = field(default_factory=InMemorySubscriptionBus)
    handler: ListenHandler = field(init=False)
    streams: int = 0

    def __post_init__(self) -> None:
        self.handler = ListenHandler(self.bus, max_subscriptions=STREAMS_PER_TOKEN)


def job_uri(job_id: str) -> str:
    return f"{JOBS_URI}/{job_id}"


class Notifier:
    def __init__(self) -> None:
        self._owners: dict[str, _Listening] = {}
        # Keyed by the client's connection: the request's ServerSession is made anew each time.
        self._subscribers: WeakKeyDictionary[Connection, _Subscriber] = WeakKeyDictionary()
        self._also: set[str] = set()
        self.budget: SessionBudget | None = None

    def allow(self, uri: str) -> None:
        """Let clients subscribe to `uri` too: a resource of a server built on this one."""
        self._also.add(uri)

    def install(self, server: MCPServer[Any]) -> None:
        lowlevel = server._lowlevel_server  # the documented way: MCPServer has no public hook
        lowlevel.add_request_handler(
            "subscriptions/listen", SubscriptionsListenRequestParams, self._listen
        )
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe
        )

    async def _listen(
        self, ctx: ServerRequestContext[Any, Any], params: SubscriptionsListenRequestParams
    ) -> SubscriptionsListenResult:
        owner = await _owner_of(ctx)
        named = params.notifications.resource_subscriptions or []
        if len(named) > URIS_PER_STREAM:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"A listen stream may name {URIS_PER_STREAM} resources: name fewer, or "
                f"{JOBS_URI} alone to hear of every job.",
            )
        for uri in dict.fromkeys(str(uri) for uri in named):
            await self._check(ctx, owner, uri)
        listening = self._owners.get(owner) or self._owners.setdefault(owner, _Listening())
        if listening.streams >= STREAMS_PER_TOKEN:
            raise MCPError(
                code=INVALID_REQUEST,
                message=f"This token has {STREAMS_PER_TOKEN} listen streams open: end one "
                f"first (one stream can name {URIS_PER_STREAM} resources).",
            )
        listening.streams += 1
        try:
            with self.budget.hold(owner) if self.budget else nullcontext(None) as refusal:
                if refusal is not None:
                    raise MCPError(code=INVALID_REQUEST, message=refusal)
                return await listening.handler(ctx, params)
        finally:
            listening.streams -= 1
            if not listening.streams:
                del self._owners[owner]

    async def _check(self, ctx: ServerRequestContext[Any, Any], owner: str, uri: str) -> None:
        """Refuse a URI other than the job history's, or one of the owner's own jobs."""
        if len(uri) > MAX_URI:
            raise MCPError(code=INVALID_PARAMS, message="That URI is too long to be a job's.")
        if uri == JOBS_URI or uri in self._also:
            return
        job_id = uri.removeprefix(f"{JOBS_URI}/") if uri.startswith(f"{JOBS_URI}/") else ""
        if not job_id or await ctx.lifespan_context.history.jobs.get(owner, job_id) is None:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"Only {JOBS_URI} and {JOBS_URI}/{{job_id}} of a job in your history "
                "can be subscribed to.",
            )

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        owner = await _owner_of(ctx)
        await self._check(ctx, owner, uri)
        subscriber = self._subscribers.setdefault(_connection(ctx), _Subscriber(owner))
        if uri not in subscriber.uris and len(subscriber.uris) >= SUBSCRIPTIONS_PER_SESSION:
            raise MCPError(
                code=INVALID_PARAMS,
                message=f"A session may hold {SUBSCRIPTIONS_PER_SESSION} subscriptions: "
                f"unsubscribe from one first, or subscribe to {JOBS_URI} for every job.",
            )
        subscriber.uris.add(uri)
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        subscriber = self._subscribers.get(_connection(ctx))
        if subscriber is not None:
            subscriber.uris.discard(str(params.uri))
        return EmptyResult()

    def streams(self) -> int:
        """How many listen streams are open, over all owners."""
        return sum(listening.streams for listening in self._owners.values())

    def subscriptions(self) -> int:
        """How many resources/subscribe subscriptions are held, over all sessions."""
        return sum(len(subscriber.uris) for subscriber in self._subscribers.values())

    async def job_changed(self, owner: str, job_id: str) -> None:
        """The owner's job resource and their history list changed."""
        listening = self._owners.get(owner)
        for uri in (job_uri(job_id), JOBS_URI):
            if listening is not None:
                await listening.bus.publish(ResourceUpdated(uri=uri))
            for connection, subscriber in list(self._subscribers.items()):
                if subscriber.owner != owner or uri not in subscriber.uris:
                    continue
                try:
                    await connection.send_resource_updated(uri)
                except Exception:  # a closed session: forget it
                    logger.debug("dropping a closed subscriber of %s", uri)
                    self._subscribers.pop(connection, None)


def _connection(ctx: ServerRequestContext[Any, Any]) -> Connection:
    """The client's connection, which lives as long as its session. The low-level handler's
    context offers only the request's ServerSession, made anew for each request, around it
    (MCPServer's own Context has it as `ctx.connection`)."""
    connection: Connection = ctx.session._connection
    return connection


async def _owner_of(ctx: ServerRequestContext[Any, Any]) -> str:
    """The fingerprint of the caller's token (HTTP header, else the server's own)."""
    caller = await ctx.lifespan_context.caller_for(ctx.request)  # the ServerState's
    owner: str = caller.owner
    return owner
