"""Budgets of what anyone may ask for without an account (sign-ins, registrations, token checks):
each attempt is spent from every budget that applies to it (its address's, its client's, the
whole server's) before it is acted on, or refused if one of them is spent.

Kept in the history, so that replicas sharing it share the budgets. Spending is one serialized
transaction: counted and recorded at once, so simultaneous attempts cannot all slip through
between a count and a record. Keys are stored as digests (no address is kept), a refused
attempt is not recorded, and spends older than their window are dropped as new ones arrive, so
the table holds at most the sum of the whole server's budgets for each kind of attempt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from descript_mcp.history.database import Database


@dataclass(frozen=True)
class Budget:
    """At most `allowed` attempts of this kind per key in any `window` seconds."""

    kind: str
    allowed: int
    window: float


@dataclass(frozen=True)
class Spend:
    """One attempt, charged to `budget` under `key` (an address, a client id, a sign-in)."""

    budget: Budget
    key: str


@dataclass(frozen=True)
class Refusal:
    """The budget that was spent, and seconds until it allows another attempt."""

    budget: Budget
    wait: float


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class BudgetStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def spend(self, at: float, *spends: Spend) -> Refusal | None:
        """Charge one attempt to each budget, or to none if any of them is spent: None when
        the attempt may go ahead, else the first budget that refused it."""
        async with self._db.transaction(serialize="budgets") as tx:
            for kind, window in {s.budget.kind: s.budget.window for s in spends}.items():
                await tx.execute(
                    "DELETE FROM budget_spends WHERE kind = ? AND at <= ?", (kind, at - window)
                )
            for spend in spends:
                budget = spend.budget
                counted = await tx.one(
                    "SELECT count(*) AS spent, min(at) AS oldest FROM budget_spends "
                    "WHERE kind = ? AND key = ? AND at > ?",
                    (budget.kind, key_digest(spend.key), at - budget.window),
                )
                if counted is not None and counted["spent"] >= budget.allowed:
                    wait = max(float(counted["oldest"]) + budget.window - at, 1.0)
                    return Refusal(budget, wait)
            for spend in spends:
                await tx.execute(
                    "INSERT INTO budget_spends (kind, key, at) VALUES (?, ?, ?)",
                    (spend.budget.kind, key_digest(spend.key), at),
                )
            return None

    async def forget_before(self, at: float) -> int:
        """Drop spends made before `at` (older than every window)."""
        return await self._db.execute("DELETE FROM budget_spends WHERE at < ?", (at,))
