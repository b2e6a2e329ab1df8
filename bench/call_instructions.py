"""What a get_job call costs, counted in instructions by valgrind: unlike its time, the same on
a busy machine (the overhead benchmark's milliseconds have moved by half from one hour to the
next on the same code). Client and server run in one process, as the SDK's tests run them; each
call reads a stopped job the server has not seen, so it makes its GET and records the reading.

Three servers: the SDK floor (a bare MCPServer whose tool makes the same GET and returns its
JSON), descript-mcp before the hosted mode (bench/_earlier.py) and descript-mcp now. A server's
cost per call is the count of a run of WARMUP + CALLS calls less that of a run of WARMUP.

python -m bench.call_instructions [--record]   # minutes under valgrind
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench._earlier import EARLIER, earlier_code, from_code
from bench._sandbox import TOKEN, sandbox_process, stopped_jobs
from bench.record import report

WARMUP, CALLS = 30, 150

# Run as `python -c CALLING floor|ours API TOKEN JOBS_FILE HISTORY`, in the working folder of
# the code to measure.
CALLING = """
import json, sys
from pathlib import Path
from typing import Any

import anyio, httpx
from mcp import Client

which, api, token, jobs_file, history = sys.argv[1:6]


def server():
    if which == "floor":
        from mcp.server import MCPServer

        http = httpx.AsyncClient(base_url=api, headers={"Authorization": f"Bearer {token}"})
        floor = MCPServer("floor", log_level="WARNING")

        @floor.tool()
        async def get_job(job_id: str) -> dict[str, Any]:
            response = await http.get(f"/jobs/{job_id}")
            response.raise_for_status()
            return response.json()

        return floor
    from descript_mcp.server import build_server
    from descript_mcp.settings import Settings

    return build_server(Settings(api_key=token, api_url=api, history_path=Path(history)))


async def main():
    async with Client(server(), mode="legacy") as mcp:
        for job_id in json.loads(Path(jobs_file).read_text()):
            result = await mcp.call_tool("get_job", {"job_id": job_id})
            assert not result.is_error, result


anyio.run(main)
"""


def calling(which: str, api: str, jobs: Path, history: Path) -> list[str]:
    """The command making a get_job call for each job in the file `jobs`, through `which`
    server (floor or ours), of the package in its working folder."""
    return [sys.executable, "-c", CALLING, which, api, TOKEN, str(jobs), str(history)]


def _instructions(command: list[str], code: Path, out: Path) -> int:
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
        # One hash seed for every run: sets and dicts of strings laid out alike, costing alike.
        **from_code(code, {**os.environ, "PYTHONHASHSEED": "0"}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    totals = next(line for line in out.read_text().splitlines() if line.startswith("totals:"))
    return int(totals.split()[1])


def count(calls: int = CALLS) -> list[tuple[str, str]]:
    if shutil.which("valgrind") is None:
        raise SystemExit("counting instructions needs valgrind (apt install valgrind)")
    this = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as folder, sandbox_process() as api:
        work = Path(folder)
        jobs = stopped_jobs(api, WARMUP + calls)
        (work / "warmup.json").write_text(json.dumps(jobs[:WARMUP]))
        (work / "all.json").write_text(json.dumps(jobs))
        servers = {"floor": ("floor", this), "now": ("ours", this)}
        earlier = earlier_code(work / "earlier")
        if earlier is not None:
            servers["earlier"] = ("ours", earlier)
        runs = {
            (name, jobs_file): calling(which, api, work / jobs_file, work / f"{name}{n}.sqlite3")
            for name, (which, _) in servers.items()
            for n, jobs_file in enumerate(("warmup.json", "all.json"))
        }
        with ThreadPoolExecutor() as pool:
            counting = {
                run: pool.submit(_instructions, command, servers[run[0]][1], work / f"{index}.out")
                for index, (run, command) in enumerate(runs.items())
            }
            counted = {run: future.result() for run, future in counting.items()}
    per_call = {
        name: (counted[(name, "all.json")] - counted[(name, "warmup.json")]) / calls
        for name in servers
    }
    floor, now = per_call["floor"], per_call["now"]
    rows = [
        ("get_job in process: bare MCPServer (baseline)", f"{floor / 1e6:.2f} M instructions"),
        ("get_job in process: descript-mcp", f"{now / 1e6:.2f} M ({now / floor:.3f}x)"),
    ]
    if "earlier" in per_call:
        earlier_count = per_call["earlier"]
        rows.append(
            (
                f"get_job in process: descript-mcp before the hosted mode ({EARLIER})",
                f"{earlier_count / 1e6:.2f} M ({earlier_count / floor:.3f}x); "
                f"now {now / earlier_count:.3f}x of it",
            )
        )
    else:
        rows.append(("get_job in process: descript-mcp before the hosted mode", "skipped: no git"))
    return rows


if __name__ == "__main__":
    report("call_instructions", count(), keep=sys.argv[1:] == ["--record"])
