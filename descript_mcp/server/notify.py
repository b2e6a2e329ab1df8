"""Telling subscribed clients that a resource changed, in both protocol eras.

2026-07-28 clients listen through `subscriptions/listen` (the SDK's subscription bus);
2025-11-25 clients use `resources/subscribe`, which MCPServer does not serve, so its handlers are
registered on the low-level server here.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer, ServerRequestContext
from mcp.server.session import ServerSession
from mcp.server.subscriptions import InMemorySubscriptionBus, ResourceUpdated
from mcp.types import (
    INVALID_PARAMS,
    EmptyResult,
    SubscribeRequestParams,
    UnsubscribeRequestParams,
)

logger = logging.getLogger("descript_mcp.server")

JOBS_URI = "descript://jobs"


def job_uri(job_id: str) -> str:
    return f"{JOBS_URI}/{job_id}"


class Notifier:
    def __init__(self) -> None:
        self.bus = InMemorySubscriptionBus()
        self._legacy: dict[str, set[ServerSession]] = {}

    def install(self, server: MCPServer[Any]) -> None:
        lowlevel = server._lowlevel_server  # the documented way: MCPServer has no public hook
        lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        lowlevel.add_request_handler(
            "resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe
        )

    async def _subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams
    ) -> EmptyResult:
        uri = str(params.uri)
        if uri.startswith(f"{JOBS_URI}/"):  # only the caller's own jobs
            state = ctx.lifespan_context
            headers = ctx.request.headers if ctx.request is not None else None
            owner = (await state.caller_for(headers)).owner
            if await state.store.get(owner, uri.removeprefix(f"{JOBS_URI}/")) is None:
                raise MCPError(code=INVALID_PARAMS, message=f"No job at {uri} in your history")
        self._legacy.setdefault(uri, set()).add(ctx.session)
        return EmptyResult()

    async def _unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: UnsubscribeRequestParams
    ) -> EmptyResult:
        self._legacy.get(str(params.uri), set()).discard(ctx.session)
        return EmptyResult()

    async def job_changed(self, job_id: str) -> None:
        """The job's resource and the history list changed."""
        for uri in (job_uri(job_id), JOBS_URI):
            await self.bus.publish(ResourceUpdated(uri=uri))
            for session in list(self._legacy.get(uri, ())):
                try:
                    await session.send_resource_updated(uri)
                except Exception:  # a closed session: forget it
                    logger.debug("dropping a closed subscriber of %s", uri)
                    self._legacy[uri].discard(session)
