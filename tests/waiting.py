"""Waiting in tests for what happens elsewhere: in another process, or in a loop of the server's
that tells no one. Where an event can be awaited (`fault.fired()`, a job's `ended`, a
subscription), await it instead; these are for the rest, each bounded and failing with what it
waited for."""

from __future__ import annotations

import inspect
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

T = TypeVar("T")


async def eventually(
    check: Callable[[], T | Awaitable[T]], what: str, *, within: float = 10.0
) -> T:
    """What `check` returns once it is truthy, asking every 20 ms for at most `within` s."""
    with anyio.move_on_after(within):
        while True:
            found = check()
            if inspect.isawaitable(found):
                found = await found
            if found:
                return found
            await anyio.sleep(0.02)
    raise AssertionError(f"{what}: not within {within:g} s")


def serving(port: int, process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """Return once `process` accepts connections on `port`; fail if it dies first."""
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert process.poll() is None, f"the process serving {port} died"
            assert time.monotonic() < deadline, f"nothing listens on {port} after 30 s"
            time.sleep(0.05)
