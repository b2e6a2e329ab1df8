"""Descript's word on the tokens requests bring (token mode): asked once per token at a time,
kept a while, and asked about a token never seen valid only within its client address's budget,
so that made-up tokens do not each become a request to Descript."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Literal

import anyio

from descript_mcp.history.records import owner_of
from descript_mcp.server.http.limits import AddressBudget

Verdict = Literal["valid", "invalid", "unreachable"]
Ask = Callable[[str], Awaitable[Verdict]]
# How long Descript's word on a token is kept: a valid one, and a refused one.
CONFIRMED_FOR = 60.0
REFUSED_FOR = 30.0
# Tokens never seen valid that one address may have checked with Descript: this many at once,
# then one every UNKNOWN_TOKEN_EVERY seconds (10 a minute).
UNKNOWN_TOKENS_BURST = 10
UNKNOWN_TOKEN_EVERY = 6.0
# Descript's word is kept on this many tokens, valid and refused apart; the least recently seen
# are forgotten first.
TOKENS_KEPT = 10_000


class TokenCheck:
    """Descript's word on tokens, by owner: a valid one kept for CONFIRMED_FOR, a refused one
    for REFUSED_FOR, each in a book of its own so that a flood of made-up tokens forgets no
    valid one. One question per token at a time, however many requests bring it; a token never
    seen valid is asked about only within its client address's budget (`addresses`)."""

    def __init__(self) -> None:
        self._valid: OrderedDict[str, float] = OrderedDict()  # owner -> confirmed until
        self._refused: OrderedDict[str, float] = OrderedDict()
        self._asking: dict[str, anyio.Event] = {}
        self.addresses = AddressBudget(UNKNOWN_TOKENS_BURST, UNKNOWN_TOKEN_EVERY)

    async def verdict(self, token: str, ask: Ask, address: str) -> Verdict | Literal["throttled"]:
        owner = owner_of(token)
        while True:
            now = time.monotonic()
            if self._valid.get(owner, 0.0) > now:
                return "valid"
            if self._refused.get(owner, 0.0) > now:
                return "invalid"
            pending = self._asking.get(owner)
            if pending is None:
                break
            await pending.wait()
        if owner not in self._valid and not self.addresses.spend(address):
            return "throttled"
        self._asking[owner] = done = anyio.Event()
        try:
            verdict = await ask(token)
        finally:
            del self._asking[owner]
            done.set()
        if verdict == "valid":
            _keep(self._valid, owner, time.monotonic() + CONFIRMED_FOR)
        elif verdict == "invalid":
            self._valid.pop(owner, None)
            _keep(self._refused, owner, time.monotonic() + REFUSED_FOR)
        return verdict


def _keep(book: OrderedDict[str, float], owner: str, until: float) -> None:
    book[owner] = until
    book.move_to_end(owner)
    while len(book) > TOKENS_KEPT:
        book.popitem(last=False)
