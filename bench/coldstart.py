"""Cold start over stdio: process launch to the `initialize` response, for `descript-mcp serve`
against a bare MCPServer with one trivial tool started the same way (the floor: importing the
SDK). Goal: at most 1.10x the floor."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from bench.record import report

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
# The floor: a bare MCPServer with one trivial tool, built, then run.
_FLOOR_BUILT = """
from mcp.server import MCPServer
server = MCPServer("floor")

@server.tool()
def ping() -> str:
    return "pong"
"""
FLOOR = _FLOOR_BUILT + "\nserver.run()\n"


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


@contextmanager
def _commands() -> Iterator[tuple[list[str], list[str], dict[str, str]]]:
    """The floor's command, ours, and the environment both run in."""
    with tempfile.TemporaryDirectory() as home:
        floor_script = Path(home) / "floor.py"
        floor_script.write_text(FLOOR)
        env = {
            **os.environ,
            "DESCRIPT_MCP_HISTORY": str(Path(home) / "h.sqlite3"),
            "DESCRIPT_API_KEY": "bench",
        }
        # Bytecode is cached as after `pip install`, whatever this shell says: otherwise every
        # launch compiles the project's modules while the SDK's were compiled at install.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        ours = [sys.executable, "-m", "descript_mcp", "serve"]
        floor = [sys.executable, str(floor_script)]
        _launch_to_answer(ours, env)  # warm the page cache and bytecode
        _launch_to_answer(floor, env)
        yield floor, ours, env


def run(repeats: int) -> list[tuple[str, str]]:
    with _commands() as (floor_command, ours_command, env):
        ours, floor = [], []
        for _ in range(repeats):  # in pairs, so machine noise hits both alike
            floor.append(_launch_to_answer(floor_command, env))
            ours.append(_launch_to_answer(ours_command, env))
    ours_ms, floor_ms = statistics.median(ours) * 1000, statistics.median(floor) * 1000
    ratios = sorted(o / f for o, f in zip(ours, floor, strict=True))
    spread = f"{ratios[len(ratios) // 4]:.2f}-{ratios[(3 * len(ratios)) // 4]:.2f}"
    return [
        ("cold start: bare MCPServer, 1 tool (baseline)", f"{floor_ms:.0f} ms"),
        ("cold start: descript-mcp serve", f"{ours_ms:.0f} ms"),
        (
            "cold start: ratio, median of pairs (goal <= 1.10)",
            f"{statistics.median(ratios):.2f}x (quartiles {spread})",
        ),
    ]


# Start-up in parts: processes that exit once a part is built, counted like the launches. The
# differences between them say what each part costs.
_IMPORTED = _FLOOR_BUILT + "import descript_mcp.cli\nimport descript_mcp.server.http.run\n"
PARTS = {
    "floor built": _FLOOR_BUILT,
    "imported": _IMPORTED,
    "tools built": _IMPORTED + "from descript_mcp.server.tools import build_tools\nbuild_tools()\n",
    "server built": _IMPORTED
    + "from descript_mcp.settings import Settings\n"
    + "from descript_mcp.server.app import build_server\n"
    + "build_server(Settings.load())\n",
}


def _instructions(command: list[str], env: dict[str, str], out: Path) -> int:
    """Instructions `command` executes from launch to exit, counted by valgrind: unlike time,
    the same on a busy machine. A server answers the `initialize` on its stdin, then stdin ends;
    a part's script exits without reading it."""
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
        input=(json.dumps(INITIALIZE) + "\n").encode(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        check=True,
    )
    totals = next(line for line in out.read_text().splitlines() if line.startswith("totals:"))
    return int(totals.split()[1])


def count_instructions() -> list[tuple[str, str]]:
    if shutil.which("valgrind") is None:
        raise SystemExit("counting instructions needs valgrind (apt install valgrind)")
    with (
        _commands() as (floor_command, ours_command, env),
        tempfile.TemporaryDirectory() as work,
        ThreadPoolExecutor(max_workers=os.cpu_count()) as pool,
    ):
        commands = {"floor": floor_command, "ours": ours_command}
        for name, script in PARTS.items():
            path = Path(work) / f"{name.replace(' ', '_')}.py"
            path.write_text(script)
            commands[name] = [sys.executable, str(path)]
        counting = {
            name: pool.submit(_instructions, command, env, Path(work) / f"{index}.out")
            for index, (name, command) in enumerate(commands.items())
        }
        count = {name: future.result() for name, future in counting.items()}
    floor, ours = count["floor"], count["ours"]
    running = (ours - floor) - (count["server built"] - count["floor built"])
    parts = [
        ("importing descript-mcp's modules", count["imported"] - count["floor built"]),
        (
            "making its tools from their catalogue",
            count["tools built"] - count["imported"],
        ),
        (
            "building the rest of its server (resources, prompts)",
            count["server built"] - count["tools built"],
        ),
        ("running it, beyond the floor's running (CLI, history)", running),
    ]
    return [
        ("cold start: bare MCPServer, 1 tool (baseline)", f"{floor / 1e6:.0f} M instructions"),
        ("cold start: descript-mcp serve", f"{ours / 1e6:.0f} M instructions"),
        ("cold start: ratio of instructions (goal <= 1.10)", f"{ours / floor:.3f}x"),
        ("cold start: what the goal leaves over the floor", f"{floor * 0.10 / 1e6:.0f} M"),
        *((f"cold start, part: {name}", f"{value / 1e6:+.0f} M") for name, value in parts),
    ]


if __name__ == "__main__":
    # `python -m bench.coldstart [--record]`: the instruction counts (minutes under valgrind).
    report("coldstart", count_instructions(), keep=sys.argv[1:] == ["--record"])
