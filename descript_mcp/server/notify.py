"""Telling subscribed clients that a resource changed, in both protocol eras, and only the
owner of a job: a user hears about the jobs started with their own token, never another's.

2026-07-28 clients listen through `subscriptions/listen`: each owner has a bus and a listen
handler of their own. 2025-11-25 clients use `resources/subscribe`, which MCPServer does not
serve, so its handlers are registered on the low-level server here.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ResourceUpdated
from mcp.types import (
    INVALID_PARAMS,
    EmptyResult,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    SubscriptionsListenResult,
    UnsubscribeRequestParams,
)

logger = logging.getLogger("descript_mcp.server")

JOBS_URI = "descript://jobs"


def job_uri(job_id: str) -> str:
    return f"{JOBS_URI}/{job_id}"


class Notifier:
    def __init__(self) -> None:
        self._owners: dict[str, tuple[InMemorySubscriptionBus, ListenHandler]] = {}
        self._legacy: dict[str, dict[ServerSession, str]] = {}  # uri -> subscriber -> owner

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
        owner = await _owner_of(ctx)
        if uri.startswith(f"{JOBS_URI}/"):  # only the caller's own jobs
            state = ctx.lifespan_context
            if await state.store.get(owner, uri.removeprefix(f"{JOBS_URI}/")) is None:
                raise MCPError(code=INVALID_PARAMS, message=f"No job at {uri} in your history")
        self._legacy.setdefault(uri, {})[ctx.session] = owner
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self._legacy.get(str(params.uri), {}).pop(ctx.session, None)
        return EmptyResult()

    async def job_changed(self, owner: str, job_id: str) -> None:
        """The owner's job resource and their history list changed."""
        listening = self._owners.get(owner)
        for uri in (job_uri(job_id), JOBS_URI):
            if listening is not None:
                await listening[0].publish(ResourceUpdated(uri=uri))
            subscribers = self._legacy.get(uri, {})
            for session, subscriber in list(subscribers.items()):
                if subscriber != owner:
                    continue
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # a closed session: forget it
                    logger.debug("dropping a closed subscriber of %s", uri)
                    subscribers.pop(session, None)


async def _owner_of(ctx: ServerRequestContext[Any, Any]) -> str:
    """The fingerprint of the caller's token (HTTP header, else the server's own)."""
    headers = ctx.request.headers if ctx.request is not None else None
    return (await ctx.lifespan_context.caller_for(headers)).owner
