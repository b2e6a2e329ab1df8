"""Failed token attempts on the connect page, counted per client and address: past a few in a
window, further attempts wait, so the page cannot be used to guess Descript tokens."""

from __future__ import annotations

import time
from collections import OrderedDict, deque

FAILURES_ALLOWED = 5
WINDOW = 900.0
KEYS_KEPT = 10_000


class Attempts:
    def __init__(self, allowed: int = FAILURES_ALLOWED, window: float = WINDOW) -> None:
        self.allowed = allowed
        self.window = window
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def wait_for(self, client_id: str, address: str) -> float:
        """Seconds until another attempt may be made; 0 when it may be made now."""
        failures = self._recent((client_id, address))
        if len(failures) < self.allowed:
            return 0.0
        return max(failures[0] + self.window - time.monotonic(), 1.0)

    def failed(self, client_id: str, address: str) -> None:
        key = (client_id, address)
        self._recent(key).append(time.monotonic())
        self._failures.move_to_end(key)
        while len(self._failures) > KEYS_KEPT:
            self._failures.popitem(last=False)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] + self.window < time.monotonic():
            failures.popleft()
        return failures
