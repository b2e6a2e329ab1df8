"""The local job history: every job the server starts or learns about, in SQLite.

It outlives Descript's 30-day job history and a restart. Rows are keyed by the owner, a
fingerprint of the token that started or read the job: never the token itself. It is also the
ledger of submissions (`HistoryLedger`): every job-creating request is written here before it
is sent, so that every process sharing the file sees the others'.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, get_args

import anyio

from descript_mcp.client.models import Job, JobCreated
from descript_mcp.client.submission import (
    IN_FLIGHT_AT_MOST,
    PEER_MARGIN,
    DedupeKey,
    Submission,
    SubmissionState,
    overlaps,
    refuse_repeat,
)

T = TypeVar("T")

# Append-only: a released migration is never edited, only followed by a new one.
MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "001_jobs",
        """
        CREATE TABLE jobs (
            job_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            job_type TEXT NOT NULL,
            tool TEXT,
            request_json TEXT,
            project_id TEXT,
            project_url TEXT,
            drive_id TEXT,
            state TEXT NOT NULL,
            progress_label TEXT,
            progress_percent INTEGER,
            result_json TEXT,
            created_at TEXT NOT NULL,
            stopped_at TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (owner, job_id)
        );
        CREATE INDEX jobs_by_owner ON jobs (owner, created_at DESC);
        CREATE INDEX jobs_by_project ON jobs (owner, project_id);
        CREATE TABLE job_events (
            id INTEGER PRIMARY KEY,
            owner TEXT NOT NULL,
            job_id TEXT NOT NULL,
            at TEXT NOT NULL,
            state TEXT NOT NULL,
            progress_label TEXT,
            progress_percent INTEGER
        );
        CREATE INDEX job_events_by_job ON job_events (owner, job_id, id);
        """,
    ),
    (
        "002_submissions",
        """
        CREATE TABLE submissions (
            id TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            job_type TEXT NOT NULL,
            project_key TEXT,
            fingerprint TEXT,
            state TEXT NOT NULL,
            job_id TEXT,
            candidates_json TEXT,
            sent_at REAL NOT NULL,
            ended_at REAL
        );
        CREATE INDEX submissions_by_project ON submissions (job_type, project_key, sent_at);
        CREATE INDEX submissions_by_fingerprint ON submissions (fingerprint, sent_at);
        CREATE INDEX submissions_by_job ON submissions (job_id);
        CREATE INDEX submissions_by_owner ON submissions (owner, state, sent_at);
        """,
    ),
    (
        "003_job_notes_and_links",
        """
        ALTER TABLE jobs ADD COLUMN note TEXT;
        ALTER TABLE jobs ADD COLUMN download_url TEXT;
        ALTER TABLE jobs ADD COLUMN download_expires_at TEXT;
        CREATE INDEX jobs_by_link_expiry ON jobs (download_expires_at)
            WHERE download_url IS NOT NULL;
        """,
    ),
)


# How many jobs' last recorded state is remembered in memory.
RECORDED_MEMORY = 10_000


def owner_of(token: str) -> str:
    """A stable, one-way name for a token's owner."""
    return "owner-" + hashlib.sha256(token.encode()).hexdigest()[:24]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    job_type: str
    tool: str | None
    request: dict[str, Any] | None
    project_id: str | None
    project_url: str | None
    drive_id: str | None
    state: str
    progress_label: str | None
    progress_percent: float | None
    result: dict[str, Any] | None
    created_at: str
    stopped_at: str | None
    updated_at: str
    note: str | None = None  # why the server stopped following it, if it did
    # A publish's signed link, kept apart from its result and only while it is valid.
    download_url: str | None = None
    download_expires_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "job_type": self.job_type,
            "state": self.state,
            "tool": self.tool,
            "project_id": self.project_id,
            "project_url": self.project_url,
            "drive_id": self.drive_id,
            "progress": (
                {"label": self.progress_label, "percent": self.progress_percent}
                if self.progress_label
                else None
            ),
            "request": self.request,
            "result": self._result(),
            "created_at": self.created_at,
            "stopped_at": self.stopped_at,
            "updated_at": self.updated_at,
            "note": self.note,
        }

    def _result(self) -> dict[str, Any] | None:
        valid = self.download_expires_at is not None and self.download_expires_at > _now()
        if self.result is None or not (self.download_url and valid):
            return self.result
        return self.result | {"download_url": self.download_url}


_COLUMNS = (
    "job_id, job_type, tool, request_json AS request, project_id, project_url, drive_id, state, "
    "progress_label, progress_percent, result_json AS result, created_at, stopped_at, updated_at, "
    "note, download_url, download_expires_at"
)


def _record(row: sqlite3.Row) -> JobRecord:
    data = dict(row)
    for name in ("request", "result"):
        data[name] = json.loads(data[name]) if data[name] else None
    return JobRecord(**data)


class JobStore:
    """SQLite in WAL mode: readers never block the writer; one connection behind a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        # What was last recorded of recent jobs: a reading that changes nothing skips the file.
        self._recorded: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()

    def open(self) -> None:
        """Open the file, creating it readable by this user only (0600, in a 0700 folder when
        the folder is made here), and bring it to the latest migration."""
        if not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, mode=0o700)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        if self.path.stat().st_mode & 0o077:  # made by an older version, or by hand
            self.path.chmod(0o600)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=5000")
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, at TEXT)")
        done = {name for (name,) in db.execute("SELECT name FROM _migrations")}
        for name, script in MIGRATIONS:
            if name not in done:
                db.executescript(
                    f"BEGIN; {script}; INSERT INTO _migrations VALUES "
                    f"('{name}', '{_now()}'); COMMIT;"
                )
        self._db = db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            if self._db is None:
                raise RuntimeError("the job store is not open")
            with self._lock:
                return work(self._db)

        return await anyio.to_thread.run_sync(locked)

    async def record_submitted(
        self,
        owner: str,
        created: JobCreated,
        *,
        job_type: str,
        tool: str,
        request: dict[str, Any],
    ) -> None:
        """A job Descript accepted: stored before the tool returns, whatever happens next."""
        now = _now()

        def write(db: sqlite3.Connection) -> None:
            with _transaction(db):
                db.execute(
                    "INSERT OR IGNORE INTO jobs (job_id, owner, job_type, tool, request_json, "
                    "project_id, project_url, drive_id, state, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
                    (
                        created.job_id,
                        owner,
                        job_type,
                        tool,
                        json.dumps(request),
                        created.project_id,
                        created.project_url,
                        created.drive_id,
                        now,
                        now,
                    ),
                )
                db.execute(
                    "INSERT INTO job_events (owner, job_id, at, state) VALUES (?, ?, ?, 'queued')",
                    (owner, created.job_id, now),
                )

        await self._run(write)

    async def record_job(self, owner: str, job: Job) -> bool:
        """What Descript said of a job now; True when its state or progress changed."""
        label = job.progress.label if job.progress else None
        percent = job.progress.percent if job.progress else None
        result = getattr(job, "result", None)
        key, seen = (owner, job.job_id), (job.job_state, label, percent, result is not None)
        if self._recorded.get(key) == seen:
            return False
        now = _now()
        stored = result.model_dump(mode="json", exclude_none=True) if result else None
        link = stored.pop("download_url", None) if stored else None
        expires = _iso(getattr(result, "download_url_expires_at", None))
        row = {
            "owner": owner,
            "job_id": job.job_id,
            "job_type": job.job_type,
            "state": job.job_state,
            "label": label,
            "percent": percent,
            "result": json.dumps(stored) if stored is not None else None,
            # A link that says not when it expires is not kept at all.
            "link": link if expires else None,
            "expires": expires if link else None,
            "created_at": _iso(job.created_at),
            "stopped_at": _iso(job.stopped_at),
            "project_id": job.project_id,
            "project_url": job.project_url,
            "drive_id": job.drive_id,
            "now": now,
        }

        def write(db: sqlite3.Connection) -> bool:
            with _transaction(db):
                before = db.execute(
                    "SELECT state, progress_label, progress_percent FROM jobs "
                    "WHERE owner = ? AND job_id = ?",
                    (owner, job.job_id),
                ).fetchone()
                db.execute(
                    "INSERT INTO jobs (owner, job_id, job_type, state, progress_label, "
                    "progress_percent, result_json, download_url, download_expires_at, "
                    "created_at, stopped_at, project_id, project_url, drive_id, updated_at) "
                    "VALUES (:owner, :job_id, :job_type, :state, :label, :percent, :result, "
                    ":link, :expires, :created_at, :stopped_at, :project_id, :project_url, "
                    ":drive_id, :now) ON CONFLICT (owner, job_id) DO UPDATE SET "
                    "state = :state, progress_label = :label, progress_percent = :percent, "
                    "result_json = COALESCE(:result, result_json), "
                    "download_url = COALESCE(:link, download_url), "
                    "download_expires_at = COALESCE(:expires, download_expires_at), "
                    "stopped_at = COALESCE(:stopped_at, stopped_at), "
                    "project_id = COALESCE(:project_id, project_id), "
                    "project_url = COALESCE(:project_url, project_url), "
                    "drive_id = COALESCE(:drive_id, drive_id), updated_at = :now",
                    row,
                )
                changed = before is None or tuple(before) != (job.job_state, label, percent)
                if changed:
                    db.execute(
                        "INSERT INTO job_events (owner, job_id, at, state, progress_label, "
                        "progress_percent) VALUES (:owner, :job_id, :now, :state, :label, "
                        ":percent)",
                        row,
                    )
                return changed

        changed = await self._run(write)
        self._remember(key, seen)
        return changed

    def _remember(self, key: tuple[str, str], seen: tuple[Any, ...]) -> None:
        self._recorded[key] = seen
        self._recorded.move_to_end(key)
        while len(self._recorded) > RECORDED_MEMORY:
            self._recorded.popitem(last=False)

    async def forget_expired_links(self) -> int:
        """Remove the signed links that have expired from the file; how many were."""

        def write(db: sqlite3.Connection) -> int:
            return db.execute(
                "UPDATE jobs SET download_url = NULL, download_expires_at = NULL "
                "WHERE download_url IS NOT NULL AND download_expires_at <= ?",
                (_now(),),
            ).rowcount

        return await self._run(write)

    async def note(self, owner: str, job_id: str, text: str) -> None:
        """Say something about a job in its record (why it is no longer followed)."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE jobs SET note = ?, updated_at = ? WHERE owner = ? AND job_id = ?",
                (text, _now(), owner, job_id),
            )

        await self._run(write)

    async def get(self, owner: str, job_id: str) -> JobRecord | None:
        def read(db: sqlite3.Connection) -> JobRecord | None:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ? AND owner = ?", (job_id, owner)
            ).fetchone()
            return _record(row) if row else None

        return await self._run(read)

    async def events(self, owner: str, job_id: str) -> list[dict[str, Any]]:
        def read(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT at, state, progress_label, progress_percent FROM job_events "
                "WHERE owner = ? AND job_id = ? ORDER BY id",
                (owner, job_id),
            ).fetchall()
            return [{"at": a, "state": s, "label": lb, "percent": p} for a, s, lb, p in rows]

        return await self._run(read)

    async def recent(self, owner: str, limit: int = 50) -> list[JobRecord]:
        def read(db: sqlite3.Connection) -> list[JobRecord]:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE owner = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
            return [_record(row) for row in rows]

        return await self._run(read)

    async def unfinished(self, owner: str) -> list[str]:
        """This owner's jobs last seen queued or running: to follow again after a restart."""

        def read(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT job_id FROM jobs WHERE owner = ? AND state IN ('queued', 'running') "
                "ORDER BY created_at",
                (owner,),
            ).fetchall()
            return [job_id for (job_id,) in rows]

        return await self._run(read)

    async def complete_ids(
        self, owner: str, column: str, prefix: str, limit: int = 20
    ) -> list[str]:
        """Job or project ids of this owner starting with `prefix`, in id order: a range scan
        of an index, so its cost follows `limit`, not the size of the history."""
        if column not in ("job_id", "project_id"):
            raise ValueError(column)

        def read(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                f"SELECT DISTINCT {column} FROM jobs WHERE owner = ? AND {column} >= ? "
                f"AND {column} < ? ORDER BY {column} LIMIT ?",
                (owner, prefix, prefix + "\U0010ffff", limit),
            ).fetchall()
            return [value for (value,) in rows]

        return await self._run(read)

    # -- the ledger of submissions ----------------------------------------------------------

    async def begin_submission(self, owner: str, submission: Submission) -> None:
        """Record a submission about to be sent, unless its dedupe key repeats one: checked and
        written in one transaction, so two identical calls cannot both be sent."""
        key = submission.dedupe

        def write(db: sqlite3.Connection) -> None:
            with _transaction(db):
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

        await self._run(write)

    async def settle_submission(self, submission: Submission) -> None:
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

        await self._run(write)

    async def claim_submission(self, submission: Submission, job_id: str) -> bool:
        """Make `job_id` this submission's unless another submission has it, in one step."""

        def write(db: sqlite3.Connection) -> bool:
            with _transaction(db):
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

        if not await self._run(write):
            return False
        submission.state, submission.job_id = "accepted", job_id
        return True

    async def rival_submissions(self, submission: Submission) -> list[Submission]:
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

        return [other for other in await self._run(read) if overlaps(submission, other, now)]

    async def claimed_job_ids(self, job_ids: Collection[str]) -> set[str]:
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

        return await self._run(read) if wanted else set()

    async def submissions(
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

        return await self._run(read)

    async def cancel_submission(self, job_id: str) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute("UPDATE submissions SET state = 'cancelled' WHERE job_id = ?", (job_id,))

        await self._run(write)


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


class HistoryLedger:
    """The submission ledger kept in the job history, for one owner's client: every process
    and replica sharing the history sees the submissions of all."""

    def __init__(self, store: JobStore, owner: str) -> None:
        self._store = store
        self._owner = owner

    async def begin(self, submission: Submission) -> None:
        await self._store.begin_submission(self._owner, submission)

    async def settle(self, submission: Submission) -> None:
        await self._store.settle_submission(submission)

    async def claim(self, submission: Submission, job_id: str) -> bool:
        return await self._store.claim_submission(submission, job_id)

    async def rivals(self, submission: Submission) -> list[Submission]:
        return await self._store.rival_submissions(submission)

    async def claimed(self, job_ids: Collection[str]) -> set[str]:
        return await self._store.claimed_job_ids(job_ids)

    async def cancelled(self, job_id: str) -> None:
        await self._store.cancel_submission(job_id)


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One atomic write (the connection is in autocommit mode otherwise)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
