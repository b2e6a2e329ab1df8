"""Telling subscribed clients that a resource changed, in both protocol eras, and only the
owner of a job: a user hears about the jobs started with their own token, never another's.

2026-07-28 clients listen through `subscriptions/listen`: each owner has a bus and a listen
handler of their own. 2025-11-25 clients use `resources/subscribe`, which MCPServer does not
serve, so its handlers are registered on the low-level server here. Only `descript://jobs` and
the caller's own `descript://jobs/{job_id}` can be subscribed to, a bounded number per session,
and a session's subscriptions go with it: they are kept by its connection, weakly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from mcp import MCPError
from mcp.server import MCPServer, ServerRequestContext
from mcp.server.connection import Connection
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.types import (
    INVALID_PARAMS,
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


@dataclass
class _Subscriber:
    owner: str
    uris: set[str] = field(default_factory=set)


def job_uri(job_id: str) -> str:
    return f"{JOBS_URI}/{job_id}"


class Notifier:
    def __init__(self) -> None:
        self._owners: dict[str, tuple[InMemorySubscriptionBus, ListenHandler]] = {}
        # Keyed by the client's connection: the request's ServerSession is made anew each time.
        self._subscribers: WeakKeyDictionary[Connection, _Subscriber] = WeakKeyDictionary()
        self._also: set[str] = set()

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
        if owner not in self._owners:
            bus = InMemorySubscriptionBus()
            self._owners[owner] = (bus, ListenHandler(bus))
        return await self._owners[owner][1](ctx, params)

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        if len(uri) > MAX_URI:
            raise MCPError(code=INVALID_PARAMS, message="That URI is too long to be a job's.")
        owner = await _owner_of(ctx)
        if uri != JOBS_URI and uri not in self._also:
            job_id = uri.removeprefix(f"{JOBS_URI}/") if uri.startswith(f"{JOBS_URI}/") else ""
            if not job_id or await ctx.lifespan_context.history.jobs.get(owner, job_id) is None:
                raise MCPError(
                    code=INVALID_PARAMS,
                    message=f"Only {JOBS_URI} and {JOBS_URI}/{{job_id}} of a job in your history "
                    "can be subscribed to.",
                )
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

    def subscriptions(self) -> int:
        """How many resources/subscribe subscriptions are held, over all sessions."""
        return sum(len(subscriber.uris) for subscriber in self._subscribers.values())

    async def job_changed(self, owner: str, job_id: str) -> None:
        """The owner's job resource and their history list changed."""
        listening = self._owners.get(owner)
        for uri in (job_uri(job_id), JOBS_URI):
            if listening is not None:
                await listening[0].publish(ResourceUpdated(uri=uri))
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
    headers = ctx.request.headers if ctx.request is not None else None
    caller = await ctx.lifespan_context.caller_for(headers)  # the ServerState's
    owner: str = caller.owner
    return owner
