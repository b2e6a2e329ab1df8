"""Tool-call overhead: `get_job` through the MCP server (stdio, and streamable HTTP) against
the same `GET /jobs/{id}` made directly with the client, all against one sandbox process on
loopback; and, for scale, a trivial tool on a bare MCPServer over HTTP (the SDK's own floor).
Goal: added time under 2 ms at the median, under 10 ms at p99."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from bench._sandbox import TOKEN, free_port, sandbox_process
from descript_mcp import DescriptClient

FLOOR = """
import sys
from mcp.server import MCPServer
server = MCPServer("floor")

@server.tool()
def ping() -> dict[str, str]:
    return {"ok": "yes"}

server.run("streamable-http", port=int(sys.argv[1]))
"""


async def _measure(call: Callable[[], Awaitable[object]], repeats: int) -> list[float]:
    for _ in range(20):  # warm up connections and caches
        await call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - started)
    return samples


async def _direct(api: str, job_id: str, repeats: int) -> list[float]:
    async with DescriptClient(TOKEN, base_url=api) as client:
        return await _measure(lambda: client.get_job(job_id), repeats)


async def _stdio(api: str, job_id: str, history: Path, repeats: int) -> list[float]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "descript_mcp", "serve", "--api-url", api, "--history", str(history)],
        env={"DESCRIPT_API_KEY": TOKEN},
    )
    async with Client(params, mode="legacy") as mcp:
        return await _measure(lambda: mcp.call_tool("get_job", {"job_id": job_id}), repeats)


async def _http(port: int, tool: str, arguments: dict[str, str], repeats: int) -> list[float]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http), mode="legacy"
        ) as mcp,
    ):
        return await _measure(lambda: mcp.call_tool(tool, arguments), repeats)


@contextmanager
def _serving(command: list[str], port: int) -> Iterator[None]:
    process = subprocess.Popen(
        command,
        env={**os.environ, "DESCRIPT_API_KEY": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{command} did not start") from None
                time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def run(repeats: int) -> list[tuple[str, str]]:
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder, sandbox_process() as api:
        home = Path(folder)
        created = httpx.post(
            f"{api}/jobs/import/project_media",
            json={"project_name": "x"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
        job_id = created["job_id"]
        time.sleep(0.5)  # let the job finish: every call then reads a stopped job
        results["direct"] = anyio.run(_direct, api, job_id, repeats)
        results["stdio"] = anyio.run(_stdio, api, job_id, home / "stdio.sqlite3", repeats)
        port = free_port()
        with _serving(
            [
                sys.executable,
                "-m",
                "descript_mcp",
                "serve",
                "--transport",
                "http",
                "--port",
                str(port),
                "--api-url",
                api,
                "--history",
                str(home / "http.sqlite3"),
            ],
            port,
        ):
            results["http"] = anyio.run(_http, port, "get_job", {"job_id": job_id}, repeats)
        (home / "floor.py").write_text(FLOOR)
        port = free_port()
        with _serving([sys.executable, str(home / "floor.py"), str(port)], port):
            results["floor"] = anyio.run(_http, port, "ping", {}, repeats)
    direct_p50, direct_p99 = _percentiles(results["direct"])
    rows = [
        (
            "get_job: direct GET /jobs/{id} (baseline)",
            f"p50 {direct_p50:.2f} ms, p99 {direct_p99:.2f} ms",
        )
    ]
    for transport in ("stdio", "http"):
        p50, p99 = _percentiles(results[transport])
        rows.append(
            (f"get_job: through MCP over {transport}", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")
        )
        rows.append(
            (
                f"get_job over {transport}: added (goal p50 < 2, p99 < 10 ms)",
                f"p50 +{p50 - direct_p50:.2f} ms, p99 +{p99 - direct_p99:.2f} ms",
            )
        )
    floor_p50, floor_p99 = _percentiles(results["floor"])
    rows.append(
        (
            "trivial tool, bare MCPServer over http (the SDK's floor)",
            f"p50 {floor_p50:.2f} ms, p99 {floor_p99:.2f} ms",
        )
    )
    return rows
