"""Submissions in the history: the ledger every process sharing it writes to before it sends a
job-creating request."""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from typing import get_args

from descript_mcp.client.ledger import (
    IN_FLIGHT_AT_MOST,
    PEER_MARGIN,
    DedupeKey,
    Submission,
    SubmissionState,
    overlaps,
    refuse_repeat,
)
from descript_mcp.history.database import Database, Row

# Submissions are checked and written one transaction at a time, across every process.
SERIALIZED = "submissions"


class SubmissionStore:
    """Each submission with its owner, kind, project, state, job and candidates."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def begin(self, owner: str, submission: Submission) -> None:
        """Record a submission about to be sent, unless its dedupe key repeats one: checked and
        written in one transaction, so two identical calls cannot both be sent."""
        key = submission.dedupe
        async with self._db.transaction(serialize=SERIALIZED) as tx:
            if key is not None:
                rows = await tx.all(
                    f"SELECT {_SUBMISSION} FROM submissions WHERE fingerprint = ? AND sent_at >= ?",
                    (key.fingerprint, submission.sent_at - key.window),
                )
                refuse_repeat(map(_submission, rows), key, submission.sent_at)
            await tx.execute(
                "INSERT INTO submissions (id, owner, job_type, project_key, fingerprint, "
                "state, sent_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    submission.id,
                    owner,
                    submission.job_type,
                    submission.project_key,
                    key.fingerprint if key else None,
                    submission.state,
                    submission.sent_at,
                ),
            )

    async def settle(self, submission: Submission) -> None:
        await self._db.execute(
            "UPDATE submissions SET state = ?, job_id = ?, candidates_json = ?, ended_at = ? "
            "WHERE id = ?",
            (
                submission.state,
                submission.job_id,
                json.dumps(list(submission.candidates)),
                submission.ended_at,
                submission.id,
            ),
        )

    async def claim(self, submission: Submission, job_id: str) -> bool:
        """Make `job_id` this submission's unless another submission has it, in one step."""

        async with self._db.transaction(serialize=SERIALIZED) as tx:
            taken = await tx.one(
                "SELECT 1 AS taken FROM submissions WHERE job_id = ? AND id != ?",
                (job_id, submission.id),
            )
            if taken:
                return False
            await tx.execute(
                "UPDATE submissions SET state = 'accepted', job_id = ?, ended_at = ? WHERE id = ?",
                (job_id, submission.ended_at, submission.id),
            )
        submission.state, submission.job_id = "accepted", job_id
        return True

    async def rivals(self, submission: Submission) -> list[Submission]:
        """Submissions of any owner that could have made the job `submission` looks for."""
        if submission.project_key is None:
            return []
        now = time.time()
        latest = (submission.ended_at or now) + PEER_MARGIN
        earliest = submission.sent_at - IN_FLIGHT_AT_MOST - PEER_MARGIN

        rows = await self._db.all(
            f"SELECT {_SUBMISSION} FROM submissions WHERE job_type = ? AND project_key = ? "
            "AND sent_at BETWEEN ? AND ? AND state IN ('sending', 'unconfirmed')",
            (submission.job_type, submission.project_key, earliest, latest),
        )
        found = map(_submission, rows)
        return [other for other in found if overlaps(submission, other, now)]

    async def claimed(self, job_ids: Collection[str]) -> set[str]:
        wanted = list(job_ids)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):  # SQLite's limit on parameters
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            rows = await self._db.all(
                f"SELECT job_id FROM submissions WHERE job_id IN ({marks})", chunk
            )
            found.update(row["job_id"] for row in rows)
        return found

    async def newest(
        self, owner: str, state: SubmissionState | None = None, limit: int = 50
    ) -> list[Submission]:
        """This owner's newest submissions, in one state or all."""
        states = [state] if state else list(get_args(SubmissionState))
        marks = ", ".join("?" * len(states))
        rows = await self._db.all(
            f"SELECT {_SUBMISSION} FROM submissions WHERE owner = ? AND state IN ({marks}) "
            "ORDER BY sent_at DESC LIMIT ?",
            (owner, *states, limit),
        )
        return [_submission(row) for row in rows]

    async def cancel(self, job_id: str) -> None:
        await self._db.execute(
            "UPDATE submissions SET state = 'cancelled' WHERE job_id = ?", (job_id,)
        )


_SUBMISSION = (
    "id, job_type, project_key, fingerprint, state, job_id, candidates_json, sent_at, ended_at"
)


def _submission(row: Row) -> Submission:
    return Submission(
        job_type=row["job_type"],
        project_key=row["project_key"],
        dedupe=DedupeKey(row["fingerprint"]) if row["fingerprint"] else None,
        id=row["id"],
        state=row["state"],
        sent_at=row["sent_at"],
        ended_at=row["ended_at"],
        job_id=row["job_id"],
        candidates=tuple(json.loads(row["candidates_json"] or "[]")),
    )
