"""Budgets per client address, in this process, for what an anonymous stranger can make this
server do: a token bucket for each address (an IPv6 one by its /64: `addresses.address_key`),
the addresses kept in a bounded, least-recently-used book."""

from __future__ import annotations

import time
from collections import OrderedDict

from starlette.types import Scope

from descript_mcp.server.http.addresses import address_key

# The addresses whose budgets are kept; the least recently seen are forgotten first.
ADDRESSES_KEPT = 10_000


def client_address(scope: Scope) -> str:
    """The address a request came from (past trusted proxies), as budgets count it."""
    client = scope.get("client")
    return address_key(client[0]) if client else "unknown"


class AddressBudget:
    """`burst` actions at once per address, then one every `every` seconds."""

    def __init__(self, burst: int, every: float, kept: int = ADDRESSES_KEPT) -> None:
        self.burst = burst
        self.every = every
        self.kept = kept
        # address -> (actions left, when that was counted)
        self._left: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _now_left(self, address: str, now: float) -> float:
        left, counted = self._left.get(address, (float(self.burst), now))
        return min(float(self.burst), left + (now - counted) / self.every)

    def spend(self, address: str) -> bool:
        """Spend one of the address's actions, if it has one left."""
        now = time.monotonic()
        left = self._now_left(address, now)
        if left < 1.0:
            return False
        self._left[address] = (left - 1.0, now)
        self._left.move_to_end(address)
        while len(self._left) > self.kept:
            self._left.popitem(last=False)
        return True

    def retry_after(self, address: str) -> int:
        """Whole seconds until the address has an action again."""
        left = self._now_left(address, time.monotonic())
        return max(1, int((1.0 - left) * self.every + 0.999))
