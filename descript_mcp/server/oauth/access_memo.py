"""The access tokens read in the last moment, so that one MCP request asks the store once: the
gate, the SDK's bearer check and the caller lookup each ask about the same token within
milliseconds. A revocation made in this process clears it at once; one made on another
replica is seen within `HELD_FOR`, well inside the seconds revocation is promised in."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

HELD_FOR = 1.0
# Tokens remembered at most; the least recently read are forgotten first.
HELD_AT_MOST = 10_000


class AccessMemo:
    """Live access tokens by their digest, each kept `HELD_FOR` seconds. An unknown or dead
    token is never kept: it is asked about again."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._held: OrderedDict[str, tuple[float, object]] = OrderedDict()

    async def read(self, digest: str, load: Callable[[], Awaitable[T | None]]) -> T | None:
        now = self._clock()
        held = self._held.get(digest)
        if held is not None and now - held[0] < HELD_FOR:
            self._held.move_to_end(digest)
            return held[1]  # type: ignore[return-value]  # only `load`'s own answers are kept
        found = await load()
        if found is None:
            self._held.pop(digest, None)
            return None
        self._held[digest] = (now, found)
        self._held.move_to_end(digest)
        while len(self._held) > HELD_AT_MOST:
            self._held.popitem(last=False)
        return found

    def clear(self) -> None:
        self._held.clear()
