"""Jobs and their events in the SQLite history."""

from __future__ import annotations

import json
import sqlite3
from collections import OrderedDict
from typing import Any

from descript_mcp.client.models import Job, JobCreated
from descript_mcp.history.records import JobRecord, iso, now
from descript_mcp.history.sqlite.database import Database, transaction

# How many jobs' last recorded state is remembered in memory.
RECORDED_MEMORY = 10_000

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


class SqliteJobs:
    """Every job the server starts or learns about, with each change of its state."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # What was last recorded of recent jobs: a reading that changes nothing skips the file.
        self._recorded: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()

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
        moment = now()

        def write(db: sqlite3.Connection) -> None:
            with transaction(db):
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
                        moment,
                        moment,
                    ),
                )
                db.execute(
                    "INSERT INTO job_events (owner, job_id, at, state) VALUES (?, ?, ?, 'queued')",
                    (owner, created.job_id, moment),
                )

        await self._db.run(write)

    async def record_job(self, owner: str, job: Job) -> bool:
        """What Descript said of a job now; True when its state or progress changed."""
        label = job.progress.label if job.progress else None
        percent = job.progress.percent if job.progress else None
        result = getattr(job, "result", None)
        key, seen = (owner, job.job_id), (job.job_state, label, percent, result is not None)
        if self._recorded.get(key) == seen:
            return False
        moment = now()
        stored = result.model_dump(mode="json", exclude_none=True) if result else None
        link = stored.pop("download_url", None) if stored else None
        expires = iso(getattr(result, "download_url_expires_at", None))
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
            "created_at": iso(job.created_at),
            "stopped_at": iso(job.stopped_at),
            "project_id": job.project_id,
            "project_url": job.project_url,
            "drive_id": job.drive_id,
            "moment": moment,
        }

        def write(db: sqlite3.Connection) -> bool:
            with transaction(db):
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
                    ":drive_id, :moment) ON CONFLICT (owner, job_id) DO UPDATE SET "
                    "state = :state, progress_label = :label, progress_percent = :percent, "
                    "result_json = COALESCE(:result, result_json), "
                    "download_url = COALESCE(:link, download_url), "
                    "download_expires_at = COALESCE(:expires, download_expires_at), "
                    "stopped_at = COALESCE(:stopped_at, stopped_at), "
                    "project_id = COALESCE(:project_id, project_id), "
                    "project_url = COALESCE(:project_url, project_url), "
                    "drive_id = COALESCE(:drive_id, drive_id), updated_at = :moment",
                    row,
                )
                changed = before is None or tuple(before) != (job.job_state, label, percent)
                if changed:
                    db.execute(
                        "INSERT INTO job_events (owner, job_id, at, state, progress_label, "
                        "progress_percent) VALUES (:owner, :job_id, :moment, :state, :label, "
                        ":percent)",
                        row,
                    )
                return changed

        changed = await self._db.run(write)
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
                (now(),),
            ).rowcount

        return await self._db.run(write)

    async def note(self, owner: str, job_id: str, text: str) -> None:
        """Say something about a job in its record (why it is no longer followed)."""

        def write(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE jobs SET note = ?, updated_at = ? WHERE owner = ? AND job_id = ?",
                (text, now(), owner, job_id),
            )

        await self._db.run(write)

    async def get(self, owner: str, job_id: str) -> JobRecord | None:
        def read(db: sqlite3.Connection) -> JobRecord | None:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ? AND owner = ?", (job_id, owner)
            ).fetchone()
            return _record(row) if row else None

        return await self._db.run(read)

    async def events(self, owner: str, job_id: str) -> list[dict[str, Any]]:
        def read(db: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = db.execute(
                "SELECT at, state, progress_label, progress_percent FROM job_events "
                "WHERE owner = ? AND job_id = ? ORDER BY id",
                (owner, job_id),
            ).fetchall()
            return [{"at": a, "state": s, "label": lb, "percent": p} for a, s, lb, p in rows]

        return await self._db.run(read)

    async def recent(self, owner: str, limit: int = 50) -> list[JobRecord]:
        def read(db: sqlite3.Connection) -> list[JobRecord]:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM jobs WHERE owner = ? "
                "ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
            return [_record(row) for row in rows]

        return await self._db.run(read)

    async def unfinished(self, owner: str) -> list[str]:
        """This owner's jobs last seen queued or running: to follow again after a restart."""

        def read(db: sqlite3.Connection) -> list[str]:
            rows = db.execute(
                "SELECT job_id FROM jobs WHERE owner = ? AND state IN ('queued', 'running') "
                "ORDER BY created_at",
                (owner,),
            ).fetchall()
            return [job_id for (job_id,) in rows]

        return await self._db.run(read)

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

        return await self._db.run(read)
