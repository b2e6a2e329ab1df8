"""Submissions in the SQLite history: the ledger every process sharing the file writes to
before it sends a job-creating request."""

from __future__ import annotations

import json
import sqlite3
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
from descript_mcp.history.sqlite.database import Database, transaction


class SqliteSubmissions:
    """Each submission with its owner, kind, project, state, job and candidates."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def begin(self, owner: str, submission: Submission) -> None:
        """Record a submission about to be sent, unless its dedupe key repeats one: checked and
        written in one transaction, so two identical calls cannot both be sent."""
        key = submission.dedupe

        def write(db: sqlite3.Connection) -> None:
            with transaction(db):
                if key is not None:
                    rows = db.execute(
                        f"SELECT {_SUBMISSION} FROM submissions WHERE fingerprint = ? "
                        "AND sent_at >= ?",
                        (key.fingerprint, submission.sent_at - key.window),
                    ).fetchall()
                    refuse_repeat(map(_submission, rows), key, submission.sent_at)
                db.execute(
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

        await self._db.run(write)

    async def settle(self, submission: Submission) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute(
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

        await self._db.run(write)

    async def claim(self, submission: Submission, job_id: str) -> bool:
        """Make `job_id` this submission's unless another submission has it, in one step."""

        def write(db: sqlite3.Connection) -> bool:
            with transaction(db):
                taken = db.execute(
                    "SELECT 1 FROM submissions WHERE job_id = ? AND id != ?",
                    (job_id, submission.id),
                ).fetchone()
                if taken:
                    return False
                db.execute(
                    "UPDATE submissions SET state = 'accepted', job_id = ?, ended_at = ? "
                    "WHERE id = ?",
                    (job_id, submission.ended_at, submission.id),
                )
                return True

        if not await self._db.run(write):
            return False
        submission.state, submission.job_id = "accepted", job_id
        return True

    async def rivals(self, submission: Submission) -> list[Submission]:
        """Submissions of any owner that could have made the job `submission` looks for."""
        if submission.project_key is None:
            return []
        now = time.time()
        latest = (submission.ended_at or now) + PEER_MARGIN
        earliest = submission.sent_at - IN_FLIGHT_AT_MOST - PEER_MARGIN

        def read(db: sqlite3.Connection) -> list[Submission]:
            rows = db.execute(
                f"SELECT {_SUBMISSION} FROM submissions WHERE job_type = ? AND project_key = ? "
                "AND sent_at BETWEEN ? AND ? AND state IN ('sending', 'unconfirmed')",
                (submission.job_type, submission.project_key, earliest, latest),
            ).fetchall()
            return [_submission(row) for row in rows]

        return [other for other in await self._db.run(read) if overlaps(submission, other, now)]

    async def claimed(self, job_ids: Collection[str]) -> set[str]:
        wanted = list(job_ids)

        def read(db: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(wanted), 500):  # SQLite's limit on parameters
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT job_id FROM submissions WHERE job_id IN ({marks})", chunk
                ).fetchall()
                found.update(job_id for (job_id,) in rows)
            return found

        return await self._db.run(read) if wanted else set()

    async def newest(
        self, owner: str, state: SubmissionState | None = None, limit: int = 50
    ) -> list[Submission]:
        """This owner's newest submissions, in one state or all."""
        states = [state] if state else list(get_args(SubmissionState))

        def read(db: sqlite3.Connection) -> list[Submission]:
            marks = ", ".join("?" * len(states))
            rows = db.execute(
                f"SELECT {_SUBMISSION} FROM submissions WHERE owner = ? AND state IN ({marks}) "
                "ORDER BY sent_at DESC LIMIT ?",
                (owner, *states, limit),
            ).fetchall()
            return [_submission(row) for row in rows]

        return await self._db.run(read)

    async def cancel(self, job_id: str) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute("UPDATE submissions SET state = 'cancelled' WHERE job_id = ?", (job_id,))

        await self._db.run(write)


_SUBMISSION = (
    "id, job_type, project_key, fingerprint, state, job_id, candidates_json, sent_at, ended_at"
)


def _submission(row: sqlite3.Row) -> Submission:
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
