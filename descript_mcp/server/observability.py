"""What lets an operator watch the server, each switched on by its setting, and its library
imported only then (`app.py` does): metrics (DESCRIPT_MCP_METRICS_PORT, `metrics.py`), traces
(the standard OTEL_* environment, `tracing.py`), each request's id in JSON logs (here)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from descript_mcp.logs import REQUEST_ID

# The OTLP endpoints that, set, ask for traces when no exporter is named.
OTLP_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_requested(environ: Mapping[str, str]) -> bool:
    """Whether the standard OpenTelemetry environment asks for traces: an exporter named in
    OTEL_TRACES_EXPORTER (other than none), or an OTLP endpoint; never with OTEL_SDK_DISABLED."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporters:
        return exporters != "none"
    return any(environ.get(name) for name in OTLP_ENDPOINTS)


async def request_ids(ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
    """Server middleware: each request gets an id, which its log lines carry."""
    token = REQUEST_ID.set(uuid.uuid4().hex)
    try:
        return await call_next(ctx)
    finally:
        REQUEST_ID.reset(token)
