"""Processes the benchmarks start: a sandbox in a process of its own, so the measured client does
not share its CPU, and servers to measure."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

TOKEN = "sandbox-token"


# Servers listen on ports below the OS's ephemeral range (which it hands to outgoing
# connections), each pytest-xdist worker in a range of its own: a port the OS calls free now
# could be another worker's server's by the time ours listens, and a test would talk to that.
FIRST_PORT, PORTS_PER_WORKER = 20000, 500
_ports_tried = itertools.count()


def free_port() -> int:
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    first = FIRST_PORT + worker * PORTS_PER_WORKER
    for _ in range(PORTS_PER_WORKER):
        port = first + next(_ports_tried) % PORTS_PER_WORKER
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {first} to {first + PORTS_PER_WORKER - 1}")


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    """Until `process` accepts connections on `port`; fails if it exits or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{process.args} did not start") from None
            time.sleep(0.05)


@contextmanager
def background(
    command: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`command` running until the block ends, quietly or writing its stderr to `log`."""
    with open(log or os.devnull, "wb") as stderr:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def sandbox_process(fast: bool = True) -> Iterator[str]:
    """`descript-mcp sandbox` on a free port (jobs done in a blink, unless not `fast`); yields
    its API URL."""
    port = free_port()
    # Benchmarks make thousands of requests a minute: Descript's rate limit is lifted.
    command = ["descript_mcp", "sandbox", "--port", str(port), "--rate-limit", "1000000"]
    if fast:
        command.append("--fast")
    with background([sys.executable, "-m", *command]) as process:
        wait_listening(port, process, timeout=30)
        yield f"http://127.0.0.1:{port}/v1"


def serve_command(port: int, api: str, history: Path) -> list[str]:
    """The command of `descript-mcp serve` over streamable HTTP on `port`, against `api`."""
    return [
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
        str(history),
    ]


@contextmanager
def http_server(
    api: str, home: Path, env: dict[str, str], log: Path | None = None
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`descript-mcp serve` over streamable HTTP against `api`, on a free port, with `env`
    added to this environment (its stderr to `log`, if given); yields its port and process."""
    port = free_port()
    command = serve_command(port, api, home / f"{port}.sqlite3")
    with background(command, env={**os.environ, **env}, log=log) as process:
        wait_listening(port, process, timeout=30)
        yield port, process


def stopped_jobs(api: str, count: int) -> list[str]:
    """`count` project-media imports made on the sandbox at `api`, ended by the time this
    returns (a fast sandbox ends them in a blink): a call reading one reads a stopped job."""
    with httpx.Client(base_url=api, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        jobs = [
            http.post("/jobs/import/project_media", json={"project_name": f"x{n}"}).json()["job_id"]
            for n in range(count)
        ]
    time.sleep(1.0)
    return jobs
