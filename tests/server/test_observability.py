"""What an operator watches: the Prometheus metrics of a scripted session, counted against what
it did; the OpenTelemetry spans of a tool call (an in-memory exporter); JSON log lines with a
request id, the trace's own when traces are on; and the probes of one process."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from bench._sandbox import background, free_port
from bench.observability import trace_sink
from descript_mcp.client import observe
from descript_mcp.logs import JsonFormatter
from descript_mcp.redact import install_log_redaction
from descript_mcp.sandbox import Sandbox, serve, serve_app
from descript_mcp.sandbox.config import JobTimings
from descript_mcp.sandbox.faults import Fault
from descript_mcp.server import build_server
from descript_mcp.server.http.lifecycle import Lifecycle
from descript_mcp.server.http.run import http_app
from descript_mcp.server.tracing import RequestSpans
from descript_mcp.settings import Settings
from tests.conftest import FAST_POLL
from tests.server.conftest import error_text, structured
from tests.server.test_transports import _as
from tests.waiting import serving

pytestmark = pytest.mark.anyio

DEPLOY = Path(__file__).parents[2] / "deploy"


@asynccontextmanager
async def served(
    sandbox: Sandbox, home: Path, **changes: Any
) -> AsyncIterator[tuple[Lifecycle, str]]:
    """The server over HTTP in this event loop, against the sandbox over HTTP, with metrics on
    its own listener; yields its app and its origin."""
    port = free_port()
    async with serve(sandbox) as api:
        settings = Settings(
            **{
                "api_url": api,
                "history_path": home / "history.sqlite3",
                "transport": "http",
                "port": port,
                "metrics_port": port,
            }
            | changes
        )
        app = http_app(build_server(settings, poll_schedule=FAST_POLL), settings)
        async with serve_app(app, port=port) as origin:
            yield app, origin


def samples(exposition: str) -> dict[str, float]:
    """Each sample of a Prometheus text exposition, by its name and labels as written."""
    found = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            found[series] = float(value)
    return found


async def test_the_metrics_count_what_a_session_did(sandbox: Sandbox, tmp_path: Path) -> None:
    token = sandbox.token
    limited = sandbox.faults.add(Fault("GET", "/projects", status=429, retry_after=0))
    async with (
        served(sandbox, tmp_path) as (_app, origin),
        _as(token, f"{origin}/mcp", "legacy") as mcp,
        httpx.AsyncClient() as http,
    ):
        for _ in range(3):
            structured(await mcp.call_tool("list_projects", {}))
        missing = await mcp.call_tool("get_job", {"job_id": "job_missing"})
        assert "Not found (404)" in error_text(missing)
        started = structured(
            await mcp.call_tool(
                "agent_edit", {"prompt": "Intro", "project_name": "Counted", "wait_seconds": 10}
            )
        )
        assert (await mcp.call_tool("no_such_tool", {})).is_error
        sandbox.config.timings = JobTimings(queued=0.1, agent_step=10.0)
        running = structured(
            await mcp.call_tool(
                "agent_edit", {"prompt": "Intro", "project_name": "Running", "wait_seconds": 0}
            )
        )
        scraped = await http.get(f"{origin}/metrics")
        during = samples(scraped.text)
    assert limited.hits == 1
    assert scraped.headers["content-type"].startswith("text/plain")
    tools = 'descript_mcp_tool_calls_total{outcome="%s",tool="%s"}'
    assert during[tools % ("ok", "list_projects")] == 3
    assert during[tools % ("error", "get_job")] == 1
    assert during[tools % ("ok", "agent_edit")] == 2
    assert during[tools % ("error", "unknown")] == 1
    assert during['descript_mcp_tool_call_duration_seconds_count{tool="list_projects"}'] == 3
    requests = 'descript_mcp_descript_requests_total{method="%s",route="%s",status="%s"}'
    assert during[requests % ("GET", "projects", "200")] == 3
    assert during[requests % ("GET", "jobs/{job_id}", "404")] == 1
    assert during[requests % ("GET", "projects", "429")] == 1  # the first, then retried
    assert during['descript_mcp_descript_rate_limited_total{route="projects"}'] == 1
    assert during['descript_mcp_descript_retry_wait_seconds_count{reason="rate_limit"}'] == 1
    assert during["descript_mcp_sessions_open"] == 1
    assert during["descript_mcp_ready"] == 1
    followed = 'descript_mcp_jobs_followed{role="polling",state="%s"}'
    assert during.get(followed % "queued", 0) + during.get(followed % "running", 0) == 1
    assert during["descript_mcp_leases_held"] == 0  # one process: no leases
    assert during[requests % ("POST", "jobs/agent", "201")] == 2
    # Bounded labels: no id and no token anywhere.
    assert started["job_id"] not in scraped.text
    assert running["job_id"] not in scraped.text
    assert "job_missing" not in scraped.text
    assert token not in scraped.text
    # What the shipped alerts and dashboard ask for is all there.
    assert referenced_metrics() <= exposed(scraped.text)


def exposed(exposition: str) -> set[str]:
    """The names of the series an exposition declares, whether or not it has samples yet."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", exposition, re.MULTILINE):
        suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        names |= {name + suffix for suffix in suffixes}
    return names


def referenced_metrics() -> set[str]:
    """The descript_mcp_* series named by the Prometheus alerts and the Grafana dashboard."""
    text = (DEPLOY / "prometheus" / "alerts.yaml").read_text()
    text += (DEPLOY / "grafana" / "descript-mcp.json").read_text()
    return set(re.findall(r"descript_mcp_[a-z_]+", text))


async def test_metrics_stay_off_the_public_listener_unless_asked(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with (
        served(sandbox, tmp_path, metrics_port=None) as (app, origin),
        httpx.AsyncClient() as http,
    ):
        assert (await http.get(f"{origin}/metrics")).status_code == 401  # the gate's
        ready = await http.get(f"{origin}/ready")
        assert ready.json() == {"ready": True, "checks": {"lifespan": True, "accepting": True}}
        assert (await http.get(f"{origin}/health")).json()["status"] == "ok"
        await app.drain(5)
        stopping = await http.get(f"{origin}/ready")
        assert stopping.status_code == 503
        assert stopping.json()["checks"]["accepting"] is False
        assert (await http.get(f"{origin}/health")).status_code == 200


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """Spans kept in memory: the process's tracer provider (set once for the whole run) with
    an in-memory exporter for this test; traces asked for by the standard environment."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:9/unused")
    yield exporter
    processor.shutdown()
    for watcher in [w for w in observe.WATCHERS if isinstance(w, RequestSpans)]:
        observe.WATCHERS.remove(watcher)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The process's log records at INFO, as the JSON lines `--log-format json` writes."""
    install_log_redaction()
    lines = io.StringIO()
    handler = logging.StreamHandler(lines)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(handler)
    root.setLevel(level)


async def test_a_tool_calls_span_has_its_requests_to_descript_under_it(
    sandbox: Sandbox, tmp_path: Path, spans: InMemorySpanExporter, json_lines: io.StringIO
) -> None:
    token = sandbox.token
    async with (
        served(sandbox, tmp_path) as (_app, origin),
        _as(token, f"{origin}/mcp", "auto") as mcp,
    ):
        started = structured(
            await mcp.call_tool(
                "agent_edit", {"prompt": "Intro", "project_name": "Traced", "wait_seconds": 0}
            )
        )
        assert (await mcp.call_tool("get_job", {"job_id": "job_missing"})).is_error
    finished = list(spans.get_finished_spans())
    (call,) = [s for s in finished if s.name == "tools/call agent_edit"]
    assert call.kind == SpanKind.SERVER
    children = [s for s in finished if s.parent and s.parent.span_id == span_id(call)]
    assert [(s.name, s.kind) for s in children] == [("POST jobs/agent", SpanKind.CLIENT)]
    (post,) = children
    assert post.attributes is not None
    assert post.attributes["http.response.status_code"] == 201
    assert post.context is not None
    assert call.context is not None
    assert post.context.trace_id == call.context.trace_id
    # The job's polls are its follower's, which outlives the call: traces of their own.
    polls = [s for s in finished if s.name == "GET jobs/{job_id}"]
    assert polls
    assert all(s.context and s.context.trace_id != call.context.trace_id for s in polls)
    # Routes, never ids or the token, in any span.
    described = json.dumps([s.to_json() for s in finished])
    assert started["job_id"] not in described
    assert token not in described
    # The failed call's log line carries its request id: its trace's id.
    (failed,) = [s for s in finished if s.name == "tools/call get_job"]
    assert failed.context is not None
    records = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    (logged,) = [r for r in records if "get_job" in r["message"] and "failed" in r["message"]]
    assert logged["request_id"] == format(failed.context.trace_id, "032x")
    assert logged["level"] == "info"


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def test_json_logs_are_redacted_as_text_logs_are(json_lines: io.StringIO) -> None:
    secret = "sk_live_0123456789abcdef"
    logging.getLogger("descript_mcp.test").warning(
        "calling https://h.example/x?token=%s with Authorization: Bearer %s", secret, secret
    )
    (record,) = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert secret not in json.dumps(record)
    assert "REDACTED" in record["message"]


def sandboxed_http(port: int, tmp_path: Path, *options: str) -> list[str]:
    """`descript-mcp [options] serve` over streamable HTTP on `port`, with its own sandbox."""
    return [
        sys.executable,
        "-m",
        "descript_mcp",
        *options,
        "serve",
        "--sandbox",
        "fast",
        "--transport",
        "http",
        "--port",
        str(port),
        "--history",
        str(tmp_path / "history.sqlite3"),
    ]


async def a_failed_call(port: int, log: Path) -> None:
    """A get_job of a job that does not exist, with the sandbox's token the server logged."""
    token = re.search(r"Bearer (\S+)", log.read_text())
    assert token is not None
    async with _as(token[1], f"http://127.0.0.1:{port}/mcp", "auto") as mcp:
        assert (await mcp.call_tool("get_job", {"job_id": "job_missing"})).is_error


async def test_the_command_writes_json_log_lines_with_request_ids(tmp_path: Path) -> None:
    """`descript-mcp --log-format json serve`, a real process: each log line is one JSON
    object, and those of a request carry its id."""
    port = free_port()
    command = sandboxed_http(port, tmp_path, "--log-format", "json", "--log-level", "info")
    log = tmp_path / "stderr"
    with background(command, log=log) as process:
        serving(port, process)
        await a_failed_call(port, log)
    lines = log.read_text().splitlines()
    # The one line that is not a log record: the sandbox's notice, for a person.
    records = [json.loads(line) for line in lines if not line.startswith("descript-mcp:")]
    assert records
    assert {"time", "level", "logger", "message"} <= set(records[0])
    (failed,) = [r for r in records if "get_job" in r["message"] and "failed" in r["message"]]
    assert re.fullmatch(r"[0-9a-f]{32}", failed["request_id"])


async def test_a_server_stopped_by_sigterm_sends_its_last_spans(tmp_path: Path) -> None:
    """A deploy stops the server with SIGTERM, which ends the process once it has stopped,
    before its exit handlers run: the spans still batched (up to 5 s of them) are sent when
    its lifespan ends, not lost."""
    port = free_port()
    command = sandboxed_http(port, tmp_path)
    log = tmp_path / "stderr"
    with trace_sink() as (sink, exports):
        env = {**os.environ, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": sink}
        with background(command, env=env, log=log) as process:
            serving(port, process)
            await a_failed_call(port, log)
            assert exports == []  # still batched: the batch is sent every 5 s
        # background() ended the process with SIGTERM and waited for it.
        assert process.returncode == -signal.SIGTERM
        assert any(b"get_job" in body for body in exports)
