"""What a stranger's floods cost the gate in the token mode: `descript-mcp serve --transport
http` in a process of its own, against a sandbox process. 700 `initialize` at once with one
token (a token holds at most 100 sessions: the rest are refused before they run), and 200
made-up tokens at once from one address (a token never seen valid is checked with Descript at
10 a minute per address, the rest refused). The server's resident memory is sampled before and
after each.

    python -m bench.gate_floods [--initializes 700] [--tokens 200]

Goal: exactly 100 sessions granted; at most 10 made-up tokens asked about; memory that grows
by what the granted sessions hold, not by what was refused.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from collections import Counter
from pathlib import Path

import anyio
import httpx2

from bench._sandbox import TOKEN, http_server, sandbox_process
from bench.subscriptions import HEADERS, rss_mib

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"},
    },
}


async def at_once(url: str, tokens: list[str]) -> Counter[int]:
    """One initialize per token in `tokens`, all at once; the statuses answered."""
    statuses: Counter[int] = Counter()
    limits = httpx2.Limits(max_connections=None, max_keepalive_connections=0)
    async with httpx2.AsyncClient(timeout=120, limits=limits) as http:

        async def one(token: str) -> None:
            headers = HEADERS | {"Authorization": f"Bearer {token}"}
            statuses[(await http.post(url, json=INITIALIZE, headers=headers)).status_code] += 1

        async with anyio.create_task_group() as flood:
            for token in tokens:
                flood.start_soon(one, token)
    return statuses


def run(initializes: int = 700, tokens: int = 200) -> list[tuple[str, str]]:
    with (
        tempfile.TemporaryDirectory() as home,
        sandbox_process() as api,
        http_server(api, Path(home), {}) as (port, server),
    ):
        url = f"http://127.0.0.1:{port}/mcp"
        anyio.run(at_once, url, [TOKEN])  # warm-up: the token confirmed, one session
        baseline = rss_mib(server.pid)
        sessions = anyio.run(at_once, url, [TOKEN] * initializes)
        after_sessions = rss_mib(server.pid)
        made_up = [f"made-up-{secrets.token_hex(8)}" for _ in range(tokens)]
        strangers = anyio.run(at_once, url, made_up)
        after_strangers = rss_mib(server.pid)
    granted = sessions[200]
    per_session = (after_sessions - baseline) * 1024 / max(granted, 1)
    return [
        (
            f"{initializes} initialize at once, one token (it held 1 session already)",
            f"{granted} granted, {sessions[429]} refused (429); RSS {baseline:.0f} -> "
            f"{after_sessions:.0f} MiB, {per_session:.0f} KiB a granted session",
        ),
        (
            f"{tokens} made-up tokens at once from one address (the valid token's first "
            "check spent one of its 10)",
            f"{strangers[401]} asked of Descript (401), {strangers[429]} refused unasked (429); "
            f"RSS {after_sessions:.0f} -> {after_strangers:.0f} MiB",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--initializes", type=int, default=700)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()
    for name, figure in run(args.initializes, args.tokens):
        print(f"  {name}: {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
