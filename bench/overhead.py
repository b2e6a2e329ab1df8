"""Tool-call overhead: `get_job` through the MCP server (stdio, and streamable HTTP) against
the same `GET /jobs/{id}` made directly with the client, all against one sandbox process on
loopback. Goal: added time under 2 ms at the median, under 10 ms at p99. Each call reads a
different stopped job, one the server has not seen end, so each makes its GET; a job already
seen to end is answered from memory, measured apart.

Part of that time is the SDK's own: a bare MCPServer whose one tool makes the same GET and
returns its JSON, on the same transport, is the floor; what descript-mcp adds beyond it
(history, the shared follower, summaries, output validation) is printed too. The floor and
descript-mcp run side by side and are called in turn, job by job, so that the machine's busy
spells fall on both. Over stdio, so does descript-mcp as it was before the hosted mode came in
(bench/_earlier.py): what a call cost a local server then, measured with this one."""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from pathlib import Path

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from bench._earlier import EARLIER, earlier_code, from_code
from bench._sandbox import (
    TOKEN,
    background,
    free_port,
    sandbox_process,
    stopped_jobs,
    wait_listening,
)
from bench._turns import WARMUP, get_job_through, in_turn
from descript_mcp import DescriptClient

FLOOR = """
import sys
import httpx
from typing import Any
from mcp.server import MCPServer

api, token, transport = sys.argv[1], sys.argv[2], sys.argv[3]
http = httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {token}"})
server = MCPServer("floor", log_level="WARNING")

@server.tool()
async def get_job(job_id: str) -> dict[str, Any]:
    response = await http.get(f"/jobs/{job_id}")
    response.raise_for_status()
    return response.json()

if transport == "stdio":
    server.run()
else:
    server.run("streamable-http", port=int(sys.argv[4]))
"""


async def _direct(api: str, jobs: list[str]) -> list[float]:
    async with DescriptClient(TOKEN, base_url=api) as client:
        (timed,) = await in_turn([client.get_job], jobs)
        return timed


async def _stdio(servers: list[StdioServerParameters], jobs: list[str]) -> list[list[float]]:
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(Client(server, mode="legacy")) for server in servers
        ]
        return await in_turn([get_job_through(mcp) for mcp in clients], jobs)


def _stdio_server(command: list[str], code: Path | None = None) -> StdioServerParameters:
    """A server over stdio; of the package under `code` if given, instead of this one."""
    env = {"DESCRIPT_API_KEY": TOKEN}
    placed = from_code(code, env) if code is not None else {"env": env}
    return StdioServerParameters(command=command[0], args=command[1:], **placed)


@asynccontextmanager
async def _over_http(port: int) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(
            streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=http), mode="legacy"
        ) as mcp,
    ):
        yield mcp


async def _http(floor_port: int, port: int, jobs: list[str]) -> list[list[float]]:
    async with _over_http(floor_port) as floor_mcp, _over_http(port) as our_mcp:
        return await in_turn([get_job_through(floor_mcp), get_job_through(our_mcp)], jobs)


async def _http_again(port: int, jobs: list[str]) -> list[float]:
    async with _over_http(port) as mcp:
        (timed,) = await in_turn([get_job_through(mcp)], jobs)
        return timed


@contextmanager
def _serving(command: list[str], port: int) -> Iterator[None]:
    with background(command, env={**os.environ, "DESCRIPT_API_KEY": TOKEN}) as process:
        wait_listening(port, process, timeout=30)
        yield


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def _earlier_row(
    results: dict[str, list[float]], floor_p50: float, now_p50: float
) -> tuple[str, str]:
    name = f"get_job over stdio: descript-mcp before the hosted mode ({EARLIER}), over the floor"
    if "stdio, earlier" not in results:
        return name, "skipped: needs the git history (a full clone)"
    p50, _ = _percentiles(results["stdio, earlier"])
    return name, f"p50 {p50 - floor_p50:+.2f} ms (now {now_p50 - floor_p50:+.2f} ms)"


def run(repeats: int) -> list[tuple[str, str]]:
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder, sandbox_process() as api:
        home = Path(folder)
        jobs = stopped_jobs(api, WARMUP + repeats)
        (home / "floor.py").write_text(FLOOR)
        floor = [sys.executable, str(home / "floor.py"), api, TOKEN]
        ours = [sys.executable, "-m", "descript_mcp", "serve", "--api-url", api]
        results["direct"] = anyio.run(_direct, api, jobs)
        over_stdio = {
            "stdio floor": _stdio_server([*floor, "stdio"]),
            "stdio": _stdio_server([*ours, "--history", str(home / "stdio.sqlite3")]),
        }
        earlier = earlier_code(home / "earlier")
        if earlier is not None:
            over_stdio["stdio, earlier"] = _stdio_server(
                [*ours, "--history", str(home / "earlier.sqlite3")], code=earlier
            )
        timed = anyio.run(_stdio, list(over_stdio.values()), jobs)
        results |= dict(zip(over_stdio, timed, strict=True))
        floor_port, port = free_port(), free_port()
        history = str(home / "http.sqlite3")
        http = [*ours, "--transport", "http", "--port", str(port), "--history", history]
        with _serving([*floor, "http", str(floor_port)], floor_port), _serving(http, port):
            results["http floor"], results["http"] = anyio.run(_http, floor_port, port, jobs)
            # The same jobs again: the server has seen each end, and asks Descript nothing.
            results["http, ended"] = anyio.run(_http_again, port, jobs)
    direct_p50, direct_p99 = _percentiles(results["direct"])
    rows = [
        (
            "get_job: direct GET /jobs/{id} (baseline)",
            f"p50 {direct_p50:.2f} ms, p99 {direct_p99:.2f} ms",
        )
    ]
    for transport in ("stdio", "http"):
        p50, p99 = _percentiles(results[transport])
        floor_p50, floor_p99 = _percentiles(results[f"{transport} floor"])
        rows += [
            (
                f"get_job over {transport}: bare MCPServer making the same GET (SDK floor)",
                f"p50 {floor_p50:.2f} ms, p99 {floor_p99:.2f} ms",
            ),
            (f"get_job over {transport}: descript-mcp", f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"),
            (
                f"get_job over {transport}: added to direct (goal p50 < 2, p99 < 10 ms)",
                f"p50 {p50 - direct_p50:+.2f} ms, p99 {p99 - direct_p99:+.2f} ms",
            ),
            (
                f"get_job over {transport}: added to the SDK floor (descript-mcp's own)",
                f"p50 {p50 - floor_p50:+.2f} ms, p99 {p99 - floor_p99:+.2f} ms",
            ),
        ]
        if transport == "stdio":
            rows.append(_earlier_row(results, floor_p50, p50))
    p50, p99 = _percentiles(results["http, ended"])
    rows.append(
        (
            "get_job over http: a job already seen to end (no request to Descript)",
            f"p50 {p50:.2f} ms, p99 {p99:.2f} ms",
        )
    )
    return rows
