"""Which address a request comes from: the budgets of anonymous requests are kept per address,
so behind a proxy it must be the client's, not the proxy's, and never one a client made up.

The peer's address is the client's, unless the peer is a proxy the operator trusts
(DESCRIPT_MCP_TRUSTED_PROXIES): then X-Forwarded-For is read from the right, each trusted proxy
having appended the address it was reached from, and the first address that is not a trusted
proxy is the client's. What a client wrote into the header itself lies to the left of that and
is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


class ForwardedAddresses:
    """ASGI middleware: `scope["client"]` becomes the client's address, as above."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = scope.get("client")
        if scope["type"] in ("http", "websocket") and self.trusted and peer:
            client = self.client_of(peer[0], Headers(scope=scope).getlist("x-forwarded-for"))
            if client != peer[0]:
                scope = {**scope, "client": (client, 0)}
        await self.app(scope, receive, send)

    def client_of(self, peer: str, forwarded: list[str]) -> str:
        address = _parsed(peer)
        if address is None or not self._trusts(address):
            return peer
        hops = [hop.strip() for header in forwarded for hop in header.split(",")]
        for hop in reversed(hops):
            found = _parsed(hop)
            if found is None:  # a trusted proxy wrote nonsense: it is the last one known
                break
            address = found
            if not self._trusts(found):
                break
        return str(address)

    def _trusts(self, address: Address) -> bool:
        return any(address in network for network in self.trusted)


def _parsed(text: str) -> Address | None:
    """An address, as X-Forwarded-For writes it: bare, or with a port (`[::1]:80`, `1.2.3.4:80`)."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def address_key(address: str) -> str:
    """An IPv4 address, or the /64 of an IPv6 one: budgets are kept per machine, not per one
    of the many addresses an IPv6 machine may use."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is None:
        return str(ip_network(f"{parsed}/64", strict=False))
    return str(parsed.ipv4_mapped if isinstance(parsed, IPv6Address) else parsed)
