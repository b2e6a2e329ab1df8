"""Jobs as GET /jobs/{job_id} returns them, discriminated by `job_type`.

Job ids are opaque strings (live ids look like `project-media-import-<uuid>`), never UUIDs.
Values Descript may add later (a new state, a new media status, a fractional percent) are read
as they came, so one odd job never breaks a page or a recovery.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from descript_mcp.client.models._base import ResponseModel

# The spec has four states; one unofficial source also reports "failed", read as terminal.
JobState = Literal["queued", "running", "stopped", "cancelled", "failed"]
TERMINAL_STATES: frozenset[str] = frozenset({"stopped", "cancelled", "failed"})
ResultStatus = Literal["success", "partial", "error"]


class JobCreatedBase(ResponseModel):
    """What every job-creating POST answers 201 with: the job and its drive."""

    job_id: str
    drive_id: str
    drive_name: str | None = None


class JobCreated(JobCreatedBase):
    """The 201 answer to a job-creating POST on a project."""

    project_id: str
    project_url: str


class UploadTarget(ResponseModel):
    upload_url: str
    asset_id: str
    artifact_id: str


class ImportJobCreated(JobCreated):
    upload_urls: dict[str, UploadTarget] = Field(default_factory=dict)


class AgentJobCreated(JobCreated):
    resolved_model: str | None = None
    conversation_id: str | None = None


class TimelineExportCreated(JobCreated):
    format: str


class DriveImportCreated(JobCreatedBase):
    """A drive media import belongs to no project: its answer has no project fields."""

    upload_urls: dict[str, UploadTarget] = Field(default_factory=dict)


class JobProgress(ResponseModel):
    label: str | None = None
    percent: int | float | None = None
    last_update_at: datetime | None = None


class MediaStatus(ResponseModel):
    status: Literal["success", "failed"] | str
    duration_seconds: float | None = None
    error_message: str | None = None


class CreatedComposition(ResponseModel):
    id: str | None = None
    name: str | None = None


class _ImportOutcome(ResponseModel):
    status: ResultStatus | str
    media_status: dict[str, MediaStatus] = Field(default_factory=dict)
    media_seconds_used: float | None = None
    error_message: str | None = None
    error_code: str | None = None


class ImportResult(_ImportOutcome):
    created_compositions: list[CreatedComposition] = Field(default_factory=list)


class DriveImportResult(_ImportOutcome):
    """Never observed live: read as an import's, which is what the one report expects."""


class AgentResult(ResponseModel):
    status: ResultStatus | str
    agent_response: str | None = None
    project_changed: bool | None = None
    media_seconds_used: float | None = None
    # Typed integer in the spec, fractional in live answers.
    ai_credits_used: float | None = None
    resolved_model: str | None = None
    conversation_id: str | None = None
    error_message: str | None = None
    error_code: str | None = None


class PublishResult(ResponseModel):
    status: ResultStatus | str
    composition_id: str | None = None
    share_url: str | None = None
    media_type: str | None = None
    download_url: str | None = None
    download_url_expires_at: datetime | None = None
    error_message: str | None = None
    error_code: str | None = None


class TimelineExportResult(ResponseModel):
    """The timeline file is at `download_url` (signed, 24 h, fetched without the token)."""

    status: ResultStatus | str
    composition_id: str | None = None
    file_name: str | None = None
    content_type: str | None = None
    download_url: str | None = None
    download_url_expires_at: datetime | None = None
    error_message: str | None = None
    error_code: str | None = None


class OtherResult(ResponseModel):
    """The result of a job type this client has no model for."""

    status: str | None = None
    error_message: str | None = None
    error_code: str | None = None


class _JobBase(ResponseModel):
    job_id: str
    job_state: JobState | str
    created_at: datetime
    stopped_at: datetime | None = None
    drive_id: str
    project_id: str | None = None
    project_url: str | None = None
    progress: JobProgress | None = None

    @property
    def is_terminal(self) -> bool:
        return self.job_state in TERMINAL_STATES


class ImportJob(_JobBase):
    job_type: Literal["import/project_media"]
    result: ImportResult | None = None


class AgentJob(_JobBase):
    job_type: Literal["agent"]
    result: AgentResult | None = None


class PublishJob(_JobBase):
    job_type: Literal["publish"]
    result: PublishResult | None = None


class TimelineExportJob(_JobBase):
    job_type: Literal["export/timeline"]
    result: TimelineExportResult | None = None


class DriveImportJob(_JobBase):
    """An import into the drive's media library: no project_id, no project_url."""

    job_type: Literal["import/drive_media"]
    result: DriveImportResult | None = None


class OtherJob(_JobBase):
    job_type: str
    result: OtherResult | None = None


KNOWN_JOB_TYPES = (
    "import/project_media",
    "agent",
    "publish",
    "export/timeline",
    "import/drive_media",
)


def _job_tag(value: Any) -> str:
    job_type = (
        value.get("job_type") if isinstance(value, dict) else getattr(value, "job_type", None)
    )
    return job_type if job_type in KNOWN_JOB_TYPES else "other"


Job = Annotated[
    Annotated[ImportJob, Tag("import/project_media")]
    | Annotated[AgentJob, Tag("agent")]
    | Annotated[PublishJob, Tag("publish")]
    | Annotated[TimelineExportJob, Tag("export/timeline")]
    | Annotated[DriveImportJob, Tag("import/drive_media")]
    | Annotated[OtherJob, Tag("other")],
    Discriminator(_job_tag),
]
