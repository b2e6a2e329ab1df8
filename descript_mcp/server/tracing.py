"""OpenTelemetry traces (`pip install 'descript-mcp[tracing]'`), on when the standard OTEL_*
environment asks for them (`observability.tracing_requested`), and imported only then.

The MCP SDK makes a span of every message it handles: a tool call's is `tools/call <tool>`,
under the caller's own trace when the request carries one. Each request to Descript is a span
under the span current when it is sent, so a tool call's requests are its children. A job's
polls, made by its follower, which outlives the call that started it, are traces of their own.
Spans name routes (`GET jobs/{job_id}`), never ids, and never a token.

Exporters: OTEL_TRACES_EXPORTER=otlp (the default; OTLP over HTTP, configured by the
OTEL_EXPORTER_OTLP_* variables) or console. A tracer provider set before (by an agent such as
`opentelemetry-instrument`, or a host application) is used as it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from descript_mcp._version import __version__
from descript_mcp.client import observe
from descript_mcp.errors import ConfigurationError
from descript_mcp.logs import REQUEST_ID


class RequestSpans:
    """A span for each request to Descript (`client/observe.py`)."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer

    def started(self, method: str, route: str) -> observe.Ended:
        span = self.tracer.start_span(
            f"{method} {route}",
            kind=SpanKind.CLIENT,
            attributes={"http.request.method": method, "url.template": route},
        )

        def ended(status: int | None) -> None:
            if status is None:
                span.set_status(StatusCode.ERROR, "no answer")
            else:
                span.set_attribute("http.response.status_code", status)
                if status >= 400:
                    span.set_status(StatusCode.ERROR)
            span.end()

        return ended

    def waited(self, reason: str, seconds: float) -> None:
        trace.get_current_span().add_event(
            "retry wait", {"retry.reason": reason, "retry.wait_seconds": seconds}
        )


def install_tracing(environ: Mapping[str, str]) -> None:
    """Export traces as the environment says, and trace the requests to Descript."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        attributes: dict[str, Any] = {SERVICE_VERSION: __version__}
        if not environ.get("OTEL_SERVICE_NAME"):
            attributes[SERVICE_NAME] = "descript-mcp"
        provider = TracerProvider(resource=Resource.create(attributes))
        for exporter in _exporters(environ):
            provider.add_span_processor(BatchSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
    if not any(isinstance(watcher, RequestSpans) for watcher in observe.WATCHERS):
        observe.watch_requests(RequestSpans(provider.get_tracer("descript_mcp", __version__)))


def flush_traces(timeout_seconds: float = 5.0) -> None:
    """Send the spans still batched, blocking: a server stopped by SIGTERM ends by that
    signal once it has stopped, before the exit handlers that would send them run."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(int(timeout_seconds * 1000))


def _exporters(environ: Mapping[str, str]) -> Iterator[SpanExporter]:
    named = environ.get("OTEL_TRACES_EXPORTER") or "otlp"
    for name in (part.strip().lower() for part in named.split(",")):
        if name == "otlp":
            protocol = (
                environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
                or "http/protobuf"
            )
            if protocol != "http/protobuf":
                raise ConfigurationError(
                    f"Traces are sent by OTLP over http/protobuf only, not {protocol}: set "
                    "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (a collector accepts both)."
                )
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            yield OTLPSpanExporter()
        elif name == "console":
            yield ConsoleSpanExporter()
        elif name not in ("none", ""):
            raise ConfigurationError(
                f"OTEL_TRACES_EXPORTER names {name!r}: this server exports traces by otlp or "
                "console."
            )


async def trace_request_ids(
    ctx: ServerRequestContext[Any, Any], call_next: CallNext
) -> HandlerResult:
    """Server middleware: a request's id is its trace's, so its log lines lead to its trace."""
    context = trace.get_current_span().get_span_context()
    request_id = format(context.trace_id, "032x") if context.is_valid else uuid.uuid4().hex
    token = REQUEST_ID.set(request_id)
    try:
        return await call_next(ctx)
    finally:
        REQUEST_ID.reset(token)
