"""Prometheus metrics, with the official client library, when DESCRIPT_MCP_METRICS_PORT is set
(`pip install 'descript-mcp[metrics]'`; imported only then): tool calls, requests to Descript,
rate limits, the jobs followed and leases held, sessions and streams, sign-ins, readiness.

Every label has a few values by construction: tools by name (a name the server does not offer
is "unknown"), Descript's routes with ids named, not shown (`client/observe.py`), states,
statuses and reasons. No id, owner or token is ever a label or a value.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Collection, Iterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.types import CallToolResult
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from descript_mcp.client import observe
from descript_mcp.errors import HistoryUnavailableError
from descript_mcp.server import supervise

if TYPE_CHECKING:
    from descript_mcp.server.http.lifecycle import Lifecycle, Served
    from descript_mcp.server.state import ServerState

TOOL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
WAIT_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60)
# Job states as labels: Descript's, and "unknown" before a first reading.
STATES = frozenset({"queued", "running", "stopped", "cancelled", "failed"})
# How often what is counted in the database (over all replicas) is counted again.
SAMPLED_EVERY = 15.0


class Metrics:
    def __init__(self, server: Served, tools: Collection[str]) -> None:
        # A `_created` series beside every counter would double the series.
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in the library
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.tools = frozenset(tools)
        self.tool_calls = Counter(
            "descript_mcp_tool_calls",
            "Tool calls, by tool and outcome: ok, error (the result is an error), cancelled",
            ["tool", "outcome"],
            registry=registry,
        )
        self.tool_seconds = Histogram(
            "descript_mcp_tool_call_duration_seconds",
            "How long tool calls took, their waits for jobs included",
            ["tool"],
            buckets=TOOL_BUCKETS,
            registry=registry,
        )
        self.requests = Counter(
            "descript_mcp_descript_requests",
            "Requests to Descript's API, by method, route and status (none: no answer)",
            ["method", "route", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "descript_mcp_descript_request_duration_seconds",
            "How long Descript's API took to answer, by method and route",
            ["method", "route"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        self.rate_limited = Counter(
            "descript_mcp_descript_rate_limited",
            "429 answers from Descript's API, by route",
            ["route"],
            registry=registry,
        )
        self.retry_waits = Histogram(
            "descript_mcp_descript_retry_wait_seconds",
            "Pauses before a request to Descript was sent again: after a 429 (its Retry-After, "
            "reason rate_limit) or a failure",
            ["reason"],
            buckets=WAIT_BUCKETS,
            registry=registry,
        )
        self.sign_ins_refused = Counter(
            "descript_mcp_oauth_sign_ins_refused",
            "Sign-ins refused: too_many_open (the server's bound), rate_limited (too many tokens "
            "refused from one place), token_rejected (Descript refused the token)",
            ["reason"],
            registry=registry,
        )
        self.sign_ins_pending = Gauge(
            "descript_mcp_oauth_sign_ins_pending",
            "Sign-ins under way, over all replicas",
            registry=registry,
        )
        self.jobs_unowned = Gauge(
            "descript_mcp_jobs_unowned",
            "Running jobs whose lease lapsed more than a lease ago and that no replica took "
            "over (their owners' tokens are held by none), over all replicas",
            registry=registry,
        )
        self.live = _Live(server)
        registry.register(self.live)

    # The requests to Descript, watched while the server runs (`client/observe.py`).

    def started(self, method: str, route: str) -> observe.Ended:
        begun = time.perf_counter()

        def ended(status: int | None) -> None:
            self.requests.labels(method, route, str(status) if status else "none").inc()
            self.request_seconds.labels(method, route).observe(time.perf_counter() - begun)
            if status == 429:
                self.rate_limited.labels(route).inc()

        return ended

    def waited(self, reason: str, seconds: float) -> None:
        self.retry_waits.labels(reason).observe(seconds)

    def sign_in_refused(self, reason: str) -> None:
        self.sign_ins_refused.labels(reason).inc()

    async def count_tool_calls(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        """Server middleware: each tool call counted by outcome, and timed."""
        if ctx.method != "tools/call":
            return await call_next(ctx)
        name = ctx.params.get("name") if ctx.params else None
        tool = name if isinstance(name, str) and name in self.tools else "unknown"
        outcome = "cancelled"
        begun = time.perf_counter()
        try:
            result = await call_next(ctx)
            outcome = "error" if _is_error(result) else "ok"
            return result
        except Exception:
            outcome = "error"
            raise
        finally:
            self.tool_calls.labels(tool, outcome).inc()
            self.tool_seconds.labels(tool).observe(time.perf_counter() - begun)

    async def sample(self, state: ServerState) -> None:
        """Count, now and then, what only the shared database knows."""
        cluster = state.tracker.cluster
        while True:
            now = time.time()
            with suppress(HistoryUnavailableError):  # kept as last counted until it answers
                if state.oauth is not None:
                    self.sign_ins_pending.set(await state.history.grants.open_sign_ins(now))
                if cluster is not None:
                    self.jobs_unowned.set(await state.history.leases.unowned(now - cluster.ttl))
            await anyio.sleep(SAMPLED_EVERY)

    def app(self) -> ASGIApp:
        """An app that serves the metrics at /metrics."""

        async def scrape(_request: Request) -> Response:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

        return Starlette(routes=[Route("/metrics", scrape)])


class _Live(Collector):
    """What is read off the running server at each scrape: nothing to keep up to date."""

    def __init__(self, server: Served) -> None:
        self.server = server
        self.lifecycle: Lifecycle | None = None  # over HTTP: its requests and streams

    def collect(self) -> Iterator[Metric]:
        parts = self.server.ready_parts()
        ready = GaugeMetricFamily("descript_mcp_ready", "1 while this replica can serve")
        ready.add_metric([], float(all(parts.values())))
        yield ready
        checks = GaugeMetricFamily(
            "descript_mcp_ready_check", "Each part of readiness, 1 while it holds", labels=["check"]
        )
        for check, holds in parts.items():
            checks.add_metric([check], float(holds))
        yield checks
        failures = CounterMetricFamily(
            "descript_mcp_background_failures",
            "Failures of background tasks, each started again after it",
            labels=["task"],
        )
        for task, count in supervise.FAILURES.items():
            failures.add_metric([task], count)
        yield failures
        yield from self._jobs()
        yield from self._traffic()

    def _jobs(self) -> Iterator[Metric]:
        state = self.server.state
        followed = state.tracker.followed() if state is not None else []
        clustered = state is not None and state.tracker.cluster is not None
        tally = Tally(
            (
                job.job_state
                if (job := f.job) is not None and job.job_state in STATES
                else ("other" if f.job is not None else "unknown"),
                "leading" if f.leading else "watching" if clustered else "polling",
            )
            for f in followed
        )
        jobs = GaugeMetricFamily(
            "descript_mcp_jobs_followed",
            "Jobs this replica follows, by last known state and role: polling (alone), leading "
            "(it holds the lease and polls), watching (another replica polls)",
            labels=["state", "role"],
        )
        for (job_state, role), count in tally.items():
            jobs.add_metric([job_state, role], count)
        yield jobs
        leases = GaugeMetricFamily("descript_mcp_leases_held", "Job leases this replica holds")
        leases.add_metric([], sum(1 for f in followed if f.leading))
        yield leases

    def _traffic(self) -> Iterator[Metric]:
        open_sessions = self.server.sessions_open()
        streams = self.lifecycle.streams() if self.lifecycle is not None else Tally[str]()
        sessions = GaugeMetricFamily(
            "descript_mcp_sessions_open",
            "MCP sessions open on this replica (streamable HTTP sessions and SSE connections)",
        )
        sessions.add_metric([], open_sessions + streams["sse"])
        yield sessions
        kinds = GaugeMetricFamily(
            "descript_mcp_streams_open",
            "Streams open: listen (subscriptions/listen), session (a session's GET stream), sse",
            labels=["kind"],
        )
        for kind in ("listen", "session", "sse"):
            kinds.add_metric([kind], streams[kind])
        yield kinds
        flight = GaugeMetricFamily(
            "descript_mcp_requests_in_flight", "HTTP requests being answered, streams aside"
        )
        flight.add_metric([], self.lifecycle.in_flight if self.lifecycle is not None else 0)
        yield flight


def _is_error(result: HandlerResult) -> bool:
    if isinstance(result, CallToolResult):
        return result.is_error
    return isinstance(result, dict) and result.get("isError") is True
