"""Budgets per client address, for what an anonymous stranger can make this server do: a token
bucket for each address, the addresses kept in a bounded, least-recently-used book.

IPv6 addresses are counted by their /64 network: one host is given a whole /64 and can pick any
address in it.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict

from starlette.types import Scope

# The addresses whose budgets are kept; the least recently seen are forgotten first.
ADDRESSES_KEPT = 10_000


def client_address(scope: Scope) -> str:
    """The address a request came from, as budgets count it (an IPv6 one by its /64)."""
    client = scope.get("client")
    host = client[0] if client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


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
