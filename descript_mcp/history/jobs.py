"""Jobs and their events in the history."""

from __future__ import annotations

import json
from collections import OrderedDict
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from descript_mcp.history.database import Database, Notification, Row
from descript_mcp.history.records import JobRecord, iso, now

if TYPE_CHECKING:
    from descript_mcp.client.models import Job, JobCreatedBase

# How many jobs' last recorded state is remembered in memory.
RECORDED_MEMORY = 10_000
_UPSERT = (
    "INSERT INTO jobs (owner, job_id, job_type, state, progress_label, "
    "progress_percent, result_json, download_url, download_expires_at, "
    "created_at, stopped_at, project_id, project_url, drive_id, updated_at) "
    "VALUES (:owner, :job_id, :job_type, :state, :label, :percent, :result, "
    ":link, :expires, :created_at, :stopped_at, :project_id, :project_url, "
    ":drive_id, :moment) ON CONFLICT (owner, job_id) DO UPDATE SET "
    "state = :state, progress_label = :label, progress_percent = :percent, "
    "result_json = COALESCE(:result, jobs.result_json), "
    "download_url = COALESCE(:link, jobs.download_url), "
    "download_expires_at = COALESCE(:expires, jobs.download_expires_at), "
    "stopped_at = COALESCE(:stopped_at, jobs.stopped_at), "
    "project_id = COALESCE(:project_id, jobs.project_id), "
    "project_url = COALESCE(:project_url, jobs.project_url), "
    "drive_id = COALESCE(:drive_id, jobs.drive_id), updated_at = :moment"
)
_EVENT = "INSERT INTO job_events (owner, job_id, at, state, progress_label, progress_percent)"

_COLUMNS = (
    "job_id, job_type, tool, request_json AS request, project_id, project_url, drive_id, state, "
    "progress_label, progress_percent, result_json AS result, created_at, stopped_at, updated_at, "
    "note, download_url, download_expires_at"
)
# One job's record, for `record_of`: read alone, or beside another statement (a lease taken).
JOB_RECORD = f"SELECT {_COLUMNS} FROM jobs WHERE owner = :owner AND job_id = :job_id"


def record_of(row: Row) -> JobRecord:
    """A job's record from a row of its columns (as JOB_RECORD reads them)."""
    data = dict(row)
    for name in ("request", "result"):
        data[name] = json.loads(data[name]) if data[name] else None
    data["progress_percent"] = _number(data["progress_percent"])
    return JobRecord(**data)


class JobStore:
    """Every job the server starts or learns about, with each change of its state."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # What was last recorded of recent jobs: a reading that changes nothing skips the file.
        self._recorded: OrderedDict[tuple[str, str], tuple[Any, ...]] = OrderedDict()

    async def record_submitted(
        self,
        owner: str,
        created: JobCreatedBase,
        *,
        job_type: str,
        tool: str,
        request: dict[str, Any],
    ) -> None:
        """A job Descript accepted: stored before the tool returns, whatever happens next.
        A drive-media import belongs to no project."""
        from descript_mcp.client.models import JobCreated  # loaded: Descript answered

        moment = now()
        project_id, project_url = (
            (created.project_id, created.project_url)
            if isinstance(created, JobCreated)
            else (None, None)
        )
        async with self._db.transaction() as tx:
            await tx.execute(
                "INSERT INTO jobs (job_id, owner, job_type, tool, request_json, "
                "project_id, project_url, drive_id, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT DO NOTHING",
                (
                    created.job_id,
                    owner,
                    job_type,
                    tool,
                    json.dumps(request),
                    project_id,
                    project_url,
                    created.drive_id,
                    moment,
                    moment,
                ),
            )
            await tx.execute(
                "INSERT INTO job_events (owner, job_id, at, state) VALUES (?, ?, ?, 'queued')",
                (owner, created.job_id, moment),
            )

    async def record_job(self, owner: str, job: Job, announce: Notification | None = None) -> bool:
        """What Descript said of a job now; True when its state or progress changed. A change
        is `announce`d in the same statement, so it is heard once committed, and never lost
        while the record is kept (PostgreSQL only: it is how replicas hear of each other)."""
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
            # A job ends once: a second reading of its end is no event, however worded.
            "ended": job.is_terminal,
        }

        if self._db.dialect == "postgresql":
            changed = await self._record_at_once(row, announce)
        elif announce is not None:
            raise ValueError("only PostgreSQL announces changes")
        else:
            changed = await self._record_in_turn(row)
        self._remember(key, seen)
        return changed

    async def _record_in_turn(self, row: dict[str, Any]) -> bool:
        """SQLite: one writer at a time, so read, write and compare in one transaction."""
        async with self._db.transaction() as tx:
            before = await tx.one(
                "SELECT state, progress_label, progress_percent FROM jobs "
                "WHERE owner = :owner AND job_id = :job_id",
                row,
            )
            await tx.execute(_UPSERT, row)
            changed = (
                before is None
                or before["state"] != row["state"]
                or (
                    not row["ended"]
                    and (before["progress_label"], before["progress_percent"])
                    != (row["label"], row["percent"])
                )
            )
            if changed:
                await tx.execute(
                    _EVENT + " VALUES (:owner, :job_id, :moment, :state, :label, :percent) "
                    "ON CONFLICT DO NOTHING",
                    row,
                )
        return changed

    async def _record_at_once(self, row: dict[str, Any], announce: Notification | None) -> bool:
        """PostgreSQL: one statement, one round trip; the job's row is locked while it is
        compared, so two replicas reading the job at once record one event, not two."""
        announced = ""
        if announce is not None:
            row = row | {"channel": announce.channel, "payload": announce.payload}
            announced = ", (SELECT count(pg_notify(:channel, :payload)) FROM event) AS announced"
        answer = await self._db.one(
            "WITH before AS (SELECT state, progress_label, progress_percent FROM jobs "
            "WHERE owner = :owner AND job_id = :job_id FOR UPDATE), "
            f"saved AS ({_UPSERT} RETURNING 1), "
            f"event AS ({_EVENT} SELECT :owner, :job_id, :moment, :state, :label, "
            "CAST(:percent AS DOUBLE PRECISION) WHERE NOT EXISTS (SELECT 1 FROM before WHERE "
            "state = :state AND (CAST(:ended AS BOOLEAN) OR (progress_label IS NOT DISTINCT "
            "FROM :label AND progress_percent IS NOT DISTINCT FROM "
            "CAST(:percent AS DOUBLE PRECISION)))) "
            "ON CONFLICT DO NOTHING RETURNING 1) "
            "SELECT (SELECT count(*) FROM event) AS changed, (SELECT count(*) FROM saved) AS saved"
            + announced,
            row,
        )
        return answer is not None and answer["changed"] > 0

    def _remember(self, key: tuple[str, str], seen: tuple[Any, ...]) -> None:
        self._recorded[key] = seen
        self._recorded.move_to_end(key)
        while len(self._recorded) > RECORDED_MEMORY:
            self._recorded.popitem(last=False)

    async def forget_expired_links(self) -> int:
        """Remove the signed links that have expired from the history; how many were."""
        return await self._db.execute(
            "UPDATE jobs SET download_url = NULL, download_expires_at = NULL "
            "WHERE download_url IS NOT NULL AND download_expires_at <= ?",
            (now(),),
        )

    async def note(self, owner: str, job_id: str, text: str) -> None:
        """Say something about a job in its record (why it is no longer followed)."""
        await self._db.execute(
            "UPDATE jobs SET note = ?, updated_at = ? WHERE owner = ? AND job_id = ?",
            (text, now(), owner, job_id),
        )

    async def get(self, owner: str, job_id: str) -> JobRecord | None:
        row = await self._db.one(JOB_RECORD, {"owner": owner, "job_id": job_id})
        return record_of(row) if row else None

    async def events(self, owner: str, job_id: str) -> list[dict[str, Any]]:
        rows = await self._db.all(
            "SELECT at, state, progress_label AS label, progress_percent AS percent "
            "FROM job_events WHERE owner = ? AND job_id = ? ORDER BY id",
            (owner, job_id),
        )
        return [{**row, "percent": _number(row["percent"])} for row in rows]

    async def recent(self, owner: str, limit: int = 50) -> list[JobRecord]:
        rows = await self._db.all(
            f"SELECT {_COLUMNS} FROM jobs WHERE owner = ? "
            "ORDER BY created_at DESC, job_id DESC LIMIT ?",
            (owner, limit),
        )
        return [record_of(row) for row in rows]

    async def unfinished(self, owner: str) -> list[str]:
        """This owner's jobs last seen queued or running: to follow again after a restart."""
        rows = await self._db.all(
            "SELECT job_id FROM jobs WHERE owner = ? AND state IN ('queued', 'running') "
            "ORDER BY created_at",
            (owner,),
        )
        return [row["job_id"] for row in rows]

    async def complete_ids(
        self, owner: str, column: str, prefix: str, limit: int = 20
    ) -> list[str]:
        """Job or project ids of this owner starting with `prefix`, in id order: a range scan
        of an index, so its cost follows `limit`, not the size of the history."""
        if column not in ("job_id", "project_id"):
            raise ValueError(column)
        rows = await self._db.all(
            f"SELECT DISTINCT {column} AS id FROM jobs WHERE owner = ? AND {column} >= ? "
            f"AND {column} < ? ORDER BY {column} LIMIT ?",
            (owner, prefix, prefix + "\U0010ffff", limit),
        )
        return [row["id"] for row in rows]


def _number(value: float | None) -> float | int | None:
    """A percent as it was given: PostgreSQL keeps every number as a float."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def job_of(record: JobRecord) -> Job:
    """The job as Descript last described it, rebuilt from its record: how a replica that does
    not poll a job learns of it from the one that does."""
    progress = None
    if record.progress_label is not None:
        progress = {"label": record.progress_label, "percent": record.progress_percent}
    return _job_adapter().validate_python(
        {
            "job_id": record.job_id,
            "job_type": record.job_type,
            "job_state": record.state,
            "created_at": record.created_at,
            "stopped_at": record.stopped_at,
            "drive_id": record.drive_id or "",
            "project_id": record.project_id,
            "project_url": record.project_url,
            "progress": progress,
            "result": record.to_json()["result"],
        }
    )


@cache
def _job_adapter() -> TypeAdapter[Job]:
    """Descript's job models, loaded and built when a record is first read back as a job."""
    from descript_mcp.client.models import Job

    return TypeAdapter(Job)
