"""Subscription memory under attack: `descript-mcp serve --transport http` in a process of its
own, against a sandbox process, in both protocol eras.

2025-11-25: rounds of sessions each try to subscribe to 400 KB URIs (the attack that grew an
earlier server by 115 MB a round) and to `descript://jobs`, then end. 2026-07-28: rounds of
`subscriptions/listen` streams each naming 95,000 made-up URIs (the attack that grew an earlier
server from 84 to 990 MiB, for good), and as many streams as a token may hold naming
`descript://jobs`, held open and closed. The server's resident memory is sampled before (the
baseline, the same server after a warm-up of what legitimate clients do) and after each round.

    python -m bench.subscriptions [--sessions 150] [--rounds 2] [--streams 20]

Goal: no growth from round to round (within the allocator's noise).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import anyio
import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

from bench._sandbox import (
    TOKEN,
    background,
    free_port,
    sandbox_process,
    serve_command,
    wait_listening,
)

LONG_URI = "descript://jobs/" + "x" * 400_000
# What one listen stream of the attack named: within the 1 MiB a request body may hold.
MADE_UP_URIS = [f"u{n}" for n in range(95_000)]
HEADERS = {
    "Accept": "application/json, text/event-stream",
    "Content-Type": "application/json",
    "Authorization": f"Bearer {TOKEN}",
}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def session(http: httpx2.Client, url: str, uris: list[str]) -> int:
    """One 2025-11-25 session that subscribes to `uris`, then ends; how many were refused."""
    opened = http.post(
        url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        },
        headers=HEADERS,
    )
    headers = HEADERS | {
        "Mcp-Session-Id": opened.headers["mcp-session-id"],
        "Mcp-Protocol-Version": "2025-11-25",
    }
    http.post(url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers)
    refused = 0
    for number, uri in enumerate(uris, start=2):
        answer = http.post(
            url,
            json={
                "jsonrpc": "2.0",
                "id": number,
                "method": "resources/subscribe",
                "params": {"uri": uri},
            },
            headers=headers,
        )
        refused += '"error"' in answer.text
    http.delete(url, headers=headers)
    return refused


async def listen_round(url: str, attempts: int, held: int) -> tuple[int, int]:
    """2026-07-28: `attempts` listen streams naming MADE_UP_URIS, one after another, then
    `held` streams naming `descript://jobs` open at once until the last is acknowledged, then
    closed. How many of the attempts were refused, and how many streams were held."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": HEADERS["Authorization"]}, timeout=60) as h,
        Client(streamable_http_client(url, http_client=h), mode="auto") as mcp,
    ):
        refused = 0
        for _ in range(attempts):
            try:
                async with mcp.listen(resource_subscriptions=MADE_UP_URIS):
                    pass
            except MCPError:
                refused += 1
        opened = 0
        stop = anyio.Event()

        async def hold(ready: anyio.Event) -> None:
            nonlocal opened
            try:
                async with mcp.listen(resource_subscriptions=["descript://jobs"]):
                    opened += 1
                    ready.set()
                    await stop.wait()
            except MCPError:
                ready.set()

        async with anyio.create_task_group() as streams:
            for _ in range(held):
                ready = anyio.Event()
                streams.start_soon(hold, ready)
                await ready.wait()
            stop.set()
    return refused, opened


def run(sessions: int = 150, rounds: int = 2, streams: int = 20) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as home, sandbox_process() as api:
        port = free_port()
        command = serve_command(port, api, Path(home) / "h.sqlite3")
        with background(command) as server, httpx2.Client(timeout=60) as http:
            wait_listening(port, server, timeout=30)
            url = f"http://127.0.0.1:{port}/mcp"
            for _ in range(sessions):  # warm-up: what legitimate sessions cost
                session(http, url, ["descript://jobs"])
            anyio.run(listen_round, url, 0, 10)
            baseline = rss_mib(server.pid)
            after: list[float] = []
            refused = 0
            for _ in range(rounds):
                for _ in range(sessions):
                    refused += session(http, url, [LONG_URI, "descript://jobs", LONG_URI])
                after.append(rss_mib(server.pid))
            listened: list[float] = []
            refused_listens = opened = 0
            for _ in range(rounds):
                refused_now, opened_now = anyio.run(listen_round, url, streams, 10)
                refused_listens += refused_now
                opened += opened_now
                listened.append(rss_mib(server.pid))
    growth = ", ".join(f"{mib:.0f} MiB ({mib / baseline:.2f}x)" for mib in after)
    listen_growth = ", ".join(f"{mib:.0f} MiB ({mib / baseline:.2f}x)" for mib in listened)
    return [
        (
            f"server RSS after {sessions} sessions subscribing and 10 listen streams (baseline)",
            f"{baseline:.0f} MiB",
        ),
        (
            f"after each round of {sessions} sessions trying 400 KB URIs",
            f"{growth}; {refused} of {2 * sessions * rounds} long URIs refused",
        ),
        (
            f"after each round of {streams} listen streams naming 95,000 URIs and 10 held",
            f"{listen_growth}; {refused_listens} of {streams * rounds} refused, "
            f"{opened} of {10 * rounds} held",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--streams", type=int, default=20)
    args = parser.parse_args()
    for name, figure in run(args.sessions, args.rounds, args.streams):
        print(f"  {name}: {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
