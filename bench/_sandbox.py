"""A sandbox in a process of its own, so the measured client does not share its CPU."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

TOKEN = "sandbox-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
def sandbox_process() -> Iterator[str]:
    """`descript-mcp sandbox --fast` on a free port; yields its API URL."""
    port = free_port()
    # Benchmarks make thousands of requests a minute: Descript's rate limit is lifted.
    command = ["descript_mcp", "sandbox", "--fast", "--port", str(port), "--rate-limit", "1000000"]
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{api}/status", headers={"Authorization": f"Bearer {TOKEN}"})
                break
            except httpx.ConnectError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the sandbox did not start") from None
                time.sleep(0.05)
        yield api
    finally:
        process.terminate()
        process.wait(timeout=10)
