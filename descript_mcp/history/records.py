"""What the history keeps of a job, and whose it is: rows are keyed by the owner, a one-way
fingerprint of the token that started or read the job, never the token itself."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def owner_of(token: str) -> str:
    """A stable, one-way name for a token's owner."""
    return "owner-" + hashlib.sha256(token.encode()).hexdigest()[:24]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso(moment: datetime | None) -> str | None:
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
        valid = self.download_expires_at is not None and self.download_expires_at > now()
        if self.result is None or not (self.download_url and valid):
            return self.result
        return self.result | {"download_url": self.download_url}
