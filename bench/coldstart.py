"""Cold start over stdio: process launch to the `initialize` response, for `descript-mcp serve`
against a bare MCPServer with one trivial tool started the same way (the floor: importing the
SDK). Goal: at most 1.10x the floor."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "bench", "version": "0"},
    },
}
FLOOR = """
from mcp.server import MCPServer
server = MCPServer("floor")

@server.tool()
def ping() -> str:
    return "pong"

server.run()
"""


def _launch_to_answer(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
    process.stdin.flush()
    line = process.stdout.readline()
    elapsed = time.perf_counter() - started
    if b'"result"' not in line:
        raise RuntimeError(f"no initialize result: {line!r}")
    process.stdin.close()
    process.wait(timeout=10)
    return elapsed


def run(repeats: int) -> list[tuple[str, str]]:
    import os

    with tempfile.TemporaryDirectory() as home:
        floor_script = Path(home) / "floor.py"
        floor_script.write_text(FLOOR)
        env = {
            **os.environ,
            "DESCRIPT_MCP_HISTORY": str(Path(home) / "h.sqlite3"),
            "DESCRIPT_API_KEY": "bench",
        }
        ours_command = [sys.executable, "-m", "descript_mcp", "serve"]
        floor_command = [sys.executable, str(floor_script)]
        _launch_to_answer(ours_command, env)  # warm the page cache and bytecode
        _launch_to_answer(floor_command, env)
        ours, floor = [], []
        for _ in range(repeats):  # interleaved, so machine noise hits both alike
            floor.append(_launch_to_answer(floor_command, env))
            ours.append(_launch_to_answer(ours_command, env))
    ours_ms, floor_ms = statistics.median(ours) * 1000, statistics.median(floor) * 1000
    return [
        ("cold start: bare MCPServer, 1 tool (baseline)", f"{floor_ms:.0f} ms"),
        ("cold start: descript-mcp serve", f"{ours_ms:.0f} ms"),
        ("cold start: ratio (goal <= 1.10)", f"{ours_ms / floor_ms:.2f}x"),
    ]
