"""Subscription memory under attack: `descript-mcp serve --transport http` in a process of its
own, against a sandbox process. Rounds of sessions each try to subscribe to 400 KB URIs (the
attack that grew an earlier server by 115 MB a round) and to `descript://jobs`, then end. The
server's resident memory is sampled before (the baseline, the same server after a warm-up
round of sessions that only subscribe to `descript://jobs`) and after each round.

    python -m bench.subscriptions [--sessions 150] [--rounds 2]

Goal: no growth from round to round (within the allocator's noise).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import httpx2

from bench._sandbox import (
    TOKEN,
    background,
    free_port,
    sandbox_process,
    serve_command,
    wait_listening,
)

LONG_URI = "descript://jobs/" + "x" * 400_000
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


def run(sessions: int = 150, rounds: int = 2) -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as home, sandbox_process() as api:
        port = free_port()
        command = serve_command(port, api, Path(home) / "h.sqlite3")
        with background(command) as server, httpx2.Client(timeout=60) as http:
            wait_listening(port, server, timeout=30)
            url = f"http://127.0.0.1:{port}/mcp"
            for _ in range(sessions):  # warm-up: what legitimate sessions cost
                session(http, url, ["descript://jobs"])
            baseline = rss_mib(server.pid)
            after: list[float] = []
            refused = 0
            for _ in range(rounds):
                for _ in range(sessions):
                    refused += session(http, url, [LONG_URI, "descript://jobs", LONG_URI])
                after.append(rss_mib(server.pid))
    growth = ", ".join(f"{mib:.0f} MiB ({mib / baseline:.2f}x)" for mib in after)
    return [
        (
            f"server RSS after {sessions} sessions subscribing (baseline)",
            f"{baseline:.0f} MiB",
        ),
        (
            f"after each round of {sessions} sessions trying 400 KB URIs",
            f"{growth}; {refused} of {2 * sessions * rounds} long URIs refused",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for name, figure in run(args.sessions, args.rounds):
        print(f"  {name}: {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
