"""Reads one HTTP request makes more than once, made once: in the OAuth mode the gate and the
SDK's bearer check each ask about the request's access token, in the same task, moments apart.
Nothing outlives the request, so a revocation holds from the next request on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")

_reads: ContextVar[dict[str, Any] | None] = ContextVar("descript_mcp_request_reads", default=None)


@contextmanager
def one_request() -> Iterator[None]:
    """Reads made inside are kept until it ends (an HTTP request's handling, in its task)."""
    token = _reads.set({})
    try:
        yield
    finally:
        _reads.reset(token)


async def read_once(key: str, load: Callable[[], Awaitable[T]]) -> T:
    """`load()`'s answer for `key`, loaded once per request (every time outside of one)."""
    reads = _reads.get()
    if reads is None:
        return await load()
    if key not in reads:
        reads[key] = await load()
    found: T = reads[key]
    return found
