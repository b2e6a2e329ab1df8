"""Who follows each running job, when several replicas share the history: a lease per job,
taken by one replica, renewed while it polls, and free for another to take once it expires
(its holder died). Taking and renewing are one statement, and on PostgreSQL so are taking and
reading the job's record; orphaned leases are taken with SKIP LOCKED, so replicas looking at
once split them instead of queueing on each other."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import NamedTuple

from descript_mcp.history.database import Database
from descript_mcp.history.jobs import JOB_RECORD, record_of
from descript_mcp.history.records import JobRecord

_TAKE = (
    "INSERT INTO job_leases (owner, job_id, holder, expires_at) "
    "VALUES (:owner, :job_id, :holder, :until) "
    "ON CONFLICT (owner, job_id) DO UPDATE SET holder = excluded.holder, "
    "expires_at = excluded.expires_at "
    "WHERE job_leases.holder = excluded.holder OR job_leases.expires_at < :now"
)


class Lead(NamedTuple):
    """Whether the lease was taken, and the job's record as it was then (None if none)."""

    taken: bool
    record: JobRecord | None


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, owner: str, job_id: str, holder: str, ttl: float) -> bool:
        """Take the job's lease, or renew it if `holder` has it; False if another holds it."""
        return await self._db.execute(_TAKE, _terms(owner, job_id, holder, ttl)) == 1

    async def take_and_read(self, owner: str, job_id: str, holder: str, ttl: float) -> Lead:
        """Take the job's lease (as `take`) and read its record: on PostgreSQL in one round
        trip, both from the statement's snapshot (the record may miss an end committed while
        the lease was being taken: the new leader then reads the job once more than needed)."""
        terms = _terms(owner, job_id, holder, ttl)
        if self._db.dialect == "postgresql":
            row = await self._db.one(
                f"WITH taken AS ({_TAKE} RETURNING 1) "
                "SELECT (SELECT count(*) FROM taken) AS taken, record.* FROM (SELECT 1) AS one "
                f"LEFT JOIN ({JOB_RECORD}) AS record ON TRUE",
                terms,
            )
            assert row is not None  # one row, whatever is found
            taken = row.pop("taken") == 1
            return Lead(taken, record_of(row) if row["job_id"] is not None else None)
        async with self._db.transaction() as tx:
            taken = await tx.execute(_TAKE, terms) == 1
            row = await tx.one(JOB_RECORD, terms)
        return Lead(taken, record_of(row) if row else None)

    async def release(self, owner: str, job_id: str, holder: str) -> None:
        await self._db.execute(
            "DELETE FROM job_leases WHERE owner = ? AND job_id = ? AND holder = ?",
            (owner, job_id, holder),
        )

    async def hand_over(self, owner: str, job_id: str, holder: str) -> bool:
        """Let the job's lease go to the first replica that looks for orphans: expired at once
        if `holder` has it, made expired if nobody has; False if another holds it."""
        offered = await self._db.execute(
            "INSERT INTO job_leases (owner, job_id, holder, expires_at) VALUES (?, ?, ?, 0) "
            "ON CONFLICT (owner, job_id) DO UPDATE SET expires_at = 0 "
            "WHERE job_leases.holder = excluded.holder",
            (owner, job_id, holder),
        )
        return offered == 1

    async def take_orphans(
        self, holder: str, ttl: float, owners: Collection[str], limit: int = 50
    ) -> list[tuple[str, str]]:
        """Take expired leases of jobs of `owners` (whose tokens this replica has)."""
        if not owners:
            return []
        now = time.time()
        marks = ", ".join("?" * len(owners))
        skip = " FOR UPDATE SKIP LOCKED" if self._db.dialect == "postgresql" else ""
        rows = await self._db.all(
            "UPDATE job_leases SET holder = ?, expires_at = ? WHERE (owner, job_id) IN ("
            f"SELECT owner, job_id FROM job_leases WHERE expires_at < ? AND owner IN ({marks}) "
            f"ORDER BY expires_at LIMIT ?{skip}) RETURNING owner, job_id",
            (holder, now + ttl, now, *owners, limit),
        )
        return [(row["owner"], row["job_id"]) for row in rows]

    async def holder(self, owner: str, job_id: str) -> str | None:
        """Who holds the job's lease now, if anyone."""
        row = await self._db.one(
            "SELECT holder FROM job_leases WHERE owner = ? AND job_id = ? AND expires_at >= ?",
            (owner, job_id, time.time()),
        )
        return row["holder"] if row else None

    async def unowned(self, lapsed_before: float) -> int:
        """How many jobs' leases lapsed before `lapsed_before` and were taken by no one since:
        jobs nobody follows, their owners' tokens held by no running replica."""
        row = await self._db.one(
            "SELECT count(*) AS lapsed FROM job_leases WHERE expires_at < ?", (lapsed_before,)
        )
        return int(row["lapsed"]) if row else 0


def _terms(owner: str, job_id: str, holder: str, ttl: float) -> dict[str, object]:
    now = time.time()
    return {"owner": owner, "job_id": job_id, "holder": holder, "until": now + ttl, "now": now}
