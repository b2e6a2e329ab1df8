"""Request bodies of the job-creating and export operations, as in Descript's OpenAPI spec."""

from __future__ import annotations

import uuid
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from descript_mcp.client.models._base import RequestModel

TeamAccess = Literal["edit", "comment", "view", "none"]
MediaType = Literal["Video", "Audio"]
Resolution = Literal["480p", "720p", "1080p", "1440p", "4K"]
AccessLevel = Literal["public", "unlisted", "drive", "private"]
TranscriptFormat = Literal["txt", "markdown", "html", "rtf", "docx", "srt"]
# The spec documents the first two; one live report has the other three accepted as well,
# another has them refused (400).
DOCUMENTED_JOB_TYPES = ("import/project_media", "agent")
ListJobsType = Literal[
    "import/project_media", "agent", "publish", "export/timeline", "import/drive_media"
]
# `visual` is for Enterprise drives only, and cannot be combined with the other kinds.
SearchMatch = Literal["name", "content", "visual"]


def visual_alone(match: list[SearchMatch] | None) -> list[SearchMatch] | None:
    """`match` as Descript takes it: `visual` only on its own."""
    if match and "visual" in match and len(set(match)) > 1:
        raise ValueError(
            "match visual (what videos and images show) cannot be combined with name or "
            "content: search once for each"
        )
    return match


ProjectSort = Literal["name", "created_at", "updated_at", "last_viewed_at"]
SearchType = Literal[
    "project", "video", "image", "audio", "project_folder", "media_library_folder", "layout_pack"
]
SpeakerLabels = Literal["off", "changes", "every_paragraph"]
TimelineFormat = Literal["edl", "sesx", "fcp", "premiere", "davinci_resolve", "aaf"]


class UrlMedia(RequestModel):
    """Media Descript fetches itself; the URL must allow HTTP Range requests."""

    url: str = Field(min_length=1)
    language: str | None = None


class UploadMedia(RequestModel):
    """Media sent by direct upload: Descript returns a signed URL to PUT the bytes to."""

    content_type: str = Field(min_length=1)
    file_size: int = Field(ge=0)
    language: str | None = None


class SequenceTrack(RequestModel):
    media: str = Field(min_length=1, description="The name of another media item")
    offset: float | None = Field(default=None, description="Start of this track, in seconds")
    mute: bool | None = Field(default=None, description="Silence this track")


class SequenceMedia(RequestModel):
    """A multitrack sequence built from other media in the project or this request."""

    tracks: list[SequenceTrack] = Field(min_length=1)


MediaItem = UrlMedia | UploadMedia | SequenceMedia


class Clip(RequestModel):
    media: str = Field(min_length=1, description="The name of a media item")
    mute: bool | None = Field(
        default=None,
        description="A sequence clip: mutes its tracks. Any other clip: mutes the whole script "
        "layer, every clip on it, existing ones too",
    )


# No `fps`: the spec lists it as ignored, but Descript answers it with 400 "not allowed".
class NewComposition(RequestModel):
    """A composition (timeline) to create: clips in order, a name, a size (default 1920x1080)."""

    name: str | None = None
    width: int | None = Field(default=None, gt=0, description="Pixels")
    height: int | None = Field(default=None, gt=0, description="Pixels")
    clips: list[Clip]


class CompositionUpdate(RequestModel):
    """Clips to append to a composition the project already has. Undocumented (one live
    report validated it, another says appending is impossible); Descript wants `project_id`."""

    composition_id: str = Field(
        min_length=1, description="The composition's id, 5-character short id or URL"
    )
    append_clips: list[Clip] = Field(min_length=1)


class ImportMediaRequest(RequestModel):
    """POST /jobs/import/project_media: a new project unless `project_id` is given."""

    job_type: ClassVar[str] = "import/project_media"  # the job it starts

    project_id: str | None = None
    project_name: str | None = None
    team_access: TeamAccess | None = None
    folder_name: str | None = None
    workspace_name: str | None = None
    add_media: dict[str, MediaItem] | None = None
    add_compositions: list[NewComposition] | None = None
    update_compositions: list[CompositionUpdate] | None = None
    callback_url: str | None = None

    @model_validator(mode="after")
    def _access_fits_workspace(self) -> ImportMediaRequest:
        """Descript's pairs: Personal takes team_access none (or none given); General and a
        team's workspace take edit, comment or view (default view), never none."""
        if self.workspace_name is None or self.team_access is None:
            return self
        personal = self.workspace_name.casefold() == "personal"
        if personal and self.team_access != "none":
            raise ValueError("a project in the Personal workspace takes team_access none")
        if not personal and self.team_access == "none":
            raise ValueError(
                f"a project in the {self.workspace_name} workspace takes team_access edit, "
                "comment or view (default view), not none"
            )
        return self


# Descript answered more files than this with a bare 500 and imported none. A 500 on a
# job-creating request cannot be told from a lost answer, so more are refused before sending.
DRIVE_IMPORT_MAX_FILES = 3


class ImportDriveMediaRequest(RequestModel):
    """POST /jobs/import/drive_media (undocumented): files into the drive's media library, in
    no project. A key `Folder/Name.wav` puts the file in that folder, creating it."""

    job_type: ClassVar[str] = "import/drive_media"  # the job it starts

    add_media: dict[str, UrlMedia | UploadMedia]
    folder_id: str | None = Field(
        default=None, description="A media library folder: a search hit's folder_id"
    )
    callback_url: str | None = None

    @field_validator("add_media")
    @classmethod
    def _in_threes(
        cls, add_media: dict[str, UrlMedia | UploadMedia]
    ) -> dict[str, UrlMedia | UploadMedia]:
        if len(add_media) > DRIVE_IMPORT_MAX_FILES:
            raise ValueError(
                f"at most {DRIVE_IMPORT_MAX_FILES} files per drive media import (Descript "
                "fails larger ones with a bare 500): send them in threes"
            )
        return add_media


class AgentEditRequest(RequestModel):
    """POST /jobs/agent: edit `project_id`, or a new project named `project_name`."""

    job_type: ClassVar[str] = "agent"  # the job it starts

    prompt: str = Field(min_length=1)
    project_id: str | None = None
    project_name: str | None = None
    composition_id: str | None = None
    model: str | None = None
    team_access: TeamAccess | None = None
    conversation_id: str | None = Field(
        default=None, description="An earlier agent job's conversation_id, to continue it"
    )
    callback_url: str | None = None

    @model_validator(mode="after")
    def _one_project(self) -> AgentEditRequest:
        if (self.project_id is None) == (self.project_name is None):
            raise ValueError(
                "give exactly one of project_id (edit a project) or project_name (new project)"
            )
        if self.conversation_id is not None:
            if self.project_id is None:
                raise ValueError(
                    "conversation_id continues a conversation on its own project: give that "
                    "project_id, not project_name"
                )
            if not is_uuid(self.conversation_id):
                raise ValueError(
                    "conversation_id is the UUID an earlier agent edit answered with as "
                    "conversation_id (not its job_id)"
                )
        return self


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class PublishRequest(RequestModel):
    """POST /jobs/publish: render a composition and publish it to a share page."""

    job_type: ClassVar[str] = "publish"  # the job it starts

    project_id: str = Field(min_length=1)
    composition_id: str | None = None
    media_type: MediaType | None = None
    resolution: Resolution | None = None
    access_level: AccessLevel | None = None
    callback_url: str | None = None


class ExportTimelineRequest(RequestModel):
    """POST /jobs/export/timeline (undocumented): a composition as a timeline file for another
    editor (media is never bundled). Free. Descript refuses the options a format has not."""

    job_type: ClassVar[str] = "export/timeline"  # the job it starts

    project_id: str = Field(min_length=1)
    format: TimelineFormat = Field(
        description="edl (Samplitude, Reaper), sesx (Audition), fcp (FCPXML 1.8), premiere "
        "and davinci_resolve (xmeml v4), aaf (Pro Tools, Logic)"
    )
    composition_id: str | None = None
    include_markers: bool | None = None
    create_track_per_file: bool | None = Field(default=None, description="Not for fcp")
    snap_frame_rates: bool | None = Field(
        default=None, description="Default true; false only for premiere and davinci_resolve"
    )
    strip_spaces: bool | None = Field(default=None, description="aaf only (for Logic)")
    callback_url: str | None = None


class Timecodes(RequestModel):
    frequency_seconds: float | None = None
    offset_seconds: float | None = None
    on_paragraphs: bool | None = None
    on_speakers: bool | None = None
    on_markers: bool | None = None


class ExportTranscriptRequest(RequestModel):
    """POST /export/transcript: a transcript file, returned synchronously."""

    project_id: str = Field(min_length=1)
    format: TranscriptFormat
    composition_id: str | None = None
    include_speaker_labels: SpeakerLabels | None = None
    include_markers: bool | None = None
    timecodes: Timecodes | None = None


# The requests that start a job: each says which (`job_type`) and takes a `callback_url`.
JobRequest = (
    ImportMediaRequest
    | ImportDriveMediaRequest
    | AgentEditRequest
    | PublishRequest
    | ExportTimelineRequest
)
