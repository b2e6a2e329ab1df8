"""What watching costs: `get_job` over streamable HTTP against one sandbox process, with metrics
and traces off (the baseline, in the same run), with Prometheus metrics on, with OpenTelemetry
traces exported by OTLP over HTTP (to a sink in this process that accepts them), and with both.
Each call reads a stopped job the server has not seen end, so each makes its GET to Descript
(a count and a span of its own). The four servers are called in turn, job by job, so the
machine's changing load falls on all alike. Server CPU per call is read from /proc."""

from __future__ import annotations

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench._sandbox import (
    TOKEN,
    background,
    free_port,
    sandbox_process,
    serve_command,
    stopped_jobs,
    wait_listening,
)

WARMUP = 20
CONFIGS = ("off", "metrics", "traces", "both")


@contextmanager
def trace_sink() -> Iterator[tuple[str, list[bytes]]]:
    """An OTLP/HTTP endpoint on loopback that takes every export; yields its URL and the body
    of each export received."""
    bodies: list[bytes] = []

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", bodies
    finally:
        server.shutdown()
        server.server_close()


def _environment(config: str, sink: str, metrics_port: int) -> dict[str, str]:
    env = {**os.environ, "DESCRIPT_API_KEY": TOKEN}
    if config in ("metrics", "both"):
        env["DESCRIPT_MCP_METRICS_PORT"] = str(metrics_port)
    if config in ("traces", "both"):
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = sink
    return env


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _measure(ports: dict[str, int], jobs: list[str]) -> dict[str, list[float]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    samples: dict[str, list[float]] = {config: [] for config in CONFIGS}
    async with AsyncExitStack() as stack:
        clients = {}
        for config, port in ports.items():
            http = await stack.enter_async_context(httpx2.AsyncClient(headers=headers, timeout=30))
            url = f"http://127.0.0.1:{port}/mcp"
            clients[config] = await stack.enter_async_context(
                Client(streamable_http_client(url, http_client=http), mode="legacy")
            )
        for n, job_id in enumerate(jobs):
            for config, mcp in clients.items():
                started = time.perf_counter()
                await mcp.call_tool("get_job", {"job_id": job_id})
                if n >= WARMUP:
                    samples[config].append(time.perf_counter() - started)
    return samples


def run(repeats: int) -> list[tuple[str, str]]:
    with (
        tempfile.TemporaryDirectory() as folder,
        sandbox_process() as api,
        trace_sink() as (sink, exports),
    ):
        home = Path(folder)
        jobs = stopped_jobs(api, WARMUP + repeats)
        with ExitStack() as stack:
            ports, pids, metrics_ports = {}, {}, {}
            for config in CONFIGS:
                port, metrics_ports[config] = free_port(), free_port()
                command = serve_command(port, api, home / f"{config}.sqlite3")
                env = _environment(config, sink, metrics_ports[config])
                process = stack.enter_context(background(command, env=env))
                wait_listening(port, process, timeout=30)
                ports[config], pids[config] = port, process.pid
            before = {config: _cpu_seconds(pid) for config, pid in pids.items()}
            samples = anyio.run(_measure, ports, jobs)
            cpu = {
                config: (_cpu_seconds(pid) - before[config]) / len(jobs)
                for config, pid in pids.items()
            }
            counted = httpx.get(f"http://127.0.0.1:{metrics_ports['metrics']}/metrics").text
        assert f'tool="get_job"}} {float(len(jobs))}' in counted, "metrics counted every call"
        assert exports, "traces were exported"
    figures = {config: _percentiles(samples[config]) for config in CONFIGS}
    off_p50, off_p99 = figures["off"]
    rows = [
        (
            "get_job over HTTP, metrics and traces off (baseline)",
            f"p50 {off_p50:.2f} ms, p99 {off_p99:.2f} ms, {cpu['off'] * 1000:.2f} ms server CPU",
        )
    ]
    names = {"metrics": "metrics on", "traces": "traces on (OTLP)", "both": "metrics and traces"}
    for config, name in names.items():
        p50, p99 = figures[config]
        rows.append(
            (
                f"get_job over HTTP, {name}",
                f"p50 {p50:.2f} ms ({p50 / off_p50:.2f}x), p99 {p99:.2f} ms "
                f"({p99 / off_p99:.2f}x), {cpu[config] * 1000:.2f} ms server CPU "
                f"({cpu[config] / cpu['off']:.2f}x)",
            )
        )
    return rows


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


if __name__ == "__main__":
    for name, figure in run(repeats=500):
        print(f"{name:<60} {figure}")
