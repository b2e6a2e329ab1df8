"""The sandbox's world: drives, projects, media, compositions, publishes, jobs and uploads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from descript_mcp.sandbox.config import DriveConfig, SandboxConfig
from descript_mcp.sandbox.errors import ApiError, invalid, not_found
from descript_mcp.sandbox.media import Sentence

Clock = Callable[[], datetime]


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Media:
    key: str
    kind: str  # audio | video | image | sequence | other
    duration: float | None = None
    words: list[Sentence] = field(default_factory=list)
    ready: bool = False
    studio_sound: bool = False


@dataclass
class LibraryFile:
    """A file of a drive's media library, which belongs to no project."""

    media: Media  # its key is the file's path: "Name.wav" or "Folder/Name.wav"
    added_at: datetime


@dataclass
class Drive:
    config: DriveConfig
    media_minutes: float
    ai_credits: float
    library: dict[str, LibraryFile] = field(default_factory=dict)  # by path

    @property
    def id(self) -> str:
        return self.config.id

    def library_folders(self) -> dict[str, str]:
        """The media library's folders, made by the paths of its files: path by folder_id."""
        paths = {path.rsplit("/", depth)[0] for path in self.library for depth in _depths(path)}
        return {library_folder_id(self.id, path): path for path in paths}


def _depths(path: str) -> range:
    return range(1, path.count("/") + 1)


def library_folder_id(drive_id: str, path: str) -> str:
    """A media library folder's id: stable, and never that of a project folder of the path."""
    return str(uuid.uuid5(uuid.UUID(drive_id), f"media_library/{path}"))


@dataclass
class Conversation:
    """An agent conversation. It continues across the compositions of its project only."""

    id: str
    drive_id: str
    project_id: str
    cost_tier: str  # of the model it started with, which a resumed turn keeps


@dataclass
class Composition:
    id: str
    name: str
    width: int
    height: int
    clips: list[tuple[str, bool]]  # (media key, muted): a sequence clip's own mute
    captions: bool = False
    # Muting any clip but a sequence mutes the script layer: every clip on it, old and new.
    script_muted: bool = False

    @property
    def short_id(self) -> str:
        return self.id[:5]


@dataclass
class Publish:
    slug: str
    composition_id: str
    access_level: str
    media_type: str  # video | audio, as GET /projects/{id} words it
    published_at: datetime
    updated_at: datetime
    name: str
    file_id: str
    duration: float
    processing: bool = True


@dataclass
class Project:
    id: str
    drive_id: str
    name: str
    created_by: str
    folder_path: str | None = None
    team_access: str = "none"
    created_at: datetime = field(default_factory=now)
    updated_at: datetime = field(default_factory=now)
    media: dict[str, Media] = field(default_factory=dict)
    compositions: list[Composition] = field(default_factory=list)
    publishes: list[Publish] = field(default_factory=list)
    clock: Clock = field(default=now, repr=False, compare=False)

    def touch(self) -> None:
        self.updated_at = self.clock()

    def clip_media(self, composition: Composition) -> list[Media]:
        """The ready media a composition plays, sequences expanded to their tracks."""
        return [media for media, _muted in self.clips_of(composition)]

    def clips_of(self, composition: Composition) -> list[tuple[Media, bool]]:
        """The ready media a composition plays, in order, each with whether it is muted: a
        sequence by its own clip, any other by the composition's script layer."""
        found: list[tuple[Media, bool]] = []
        for key, muted in composition.clips:
            media = self.media.get(key)
            if media is not None and media.ready:
                sequence = media.kind == "sequence"
                found.append((media, muted if sequence else composition.script_muted))
        return found

    def add_clips(self, composition: Composition, clips: list[tuple[str, bool]]) -> None:
        """Append clips as the spec has `mute` work: "For a sequence clip, mutes the sequence's
        own tracks. For any other clip, mutes the composition's script layer, which silences
        every clip on it — including clips already in the composition." """
        for key, muted in clips:
            media = self.media.get(key)
            if muted and (media is None or media.kind != "sequence"):
                composition.script_muted = True
        composition.clips.extend(clips)

    def duration_of(self, composition: Composition) -> float:
        return round(sum(m.duration or 0.0 for m in self.clip_media(composition)), 3)

    def media_type_of(self, composition: Composition) -> str:
        kinds = {m.kind for m in self.clip_media(composition)}
        return "video" if "video" in kinds or "image" in kinds else "audio"

    def has_content(self, composition: Composition) -> bool:
        return self.duration_of(composition) > 0

    def find_composition(self, ref: str) -> Composition:
        """A composition by full id, 5-character short id, or a project URL ending in one."""
        wanted = ref.rstrip("/").rsplit("/", 1)[-1]
        for composition in self.compositions:
            if wanted in (composition.id, composition.short_id):
                return composition
        raise not_found(f"No composition matching '{ref}' found in project {self.id}")

    def first_or(self, ref: str | None) -> Composition:
        """The composition `ref` names, else the project's first, as a transcript export takes
        it: the empty placeholder that leads a project made by an import or the agent too."""
        if ref is not None:
            return self.find_composition(ref)
        if not self.compositions:
            raise invalid(f"Project {self.id} has no composition")
        return self.compositions[0]

    def composition_for(self, ref: str | None, *, lacking: str) -> Composition:
        """The composition `ref` names, else the first with content; none: a 400 saying the
        project has no composition that `lacking` (e.g. "has a transcript")."""
        if ref is not None:
            return self.find_composition(ref)
        for composition in self.compositions:
            if self.has_content(composition):
                return composition
        raise invalid(f"No composition in project {self.id} {lacking}")


@dataclass
class Job:
    id: str
    type: str
    drive_id: str
    project_id: str | None  # None for a job of no project (a drive media import)
    project_url: str | None
    created_at: datetime = field(default_factory=now)
    state: str = "queued"
    stopped_at: datetime | None = None
    progress: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    callback_url: str | None = None
    token: str | None = None  # the token that created it: whose job it is
    stuck: bool = False  # a fault: the job never finishes
    cancel_scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    clock: Clock = field(default=now, repr=False, compare=False)
    # Set when the job stops or is cancelled: what a test waits on, instead of time.
    ended: anyio.Event = field(default_factory=anyio.Event, repr=False, compare=False)

    def set_progress(self, label: str, percent: int | None = None, **extra: Any) -> None:
        if self.ended.is_set():  # a job cancelled before its work began never runs
            return
        self.state = "running"
        self.progress = {"label": label, "last_update_at": iso(self.clock()), **extra}
        if percent is not None:
            self.progress["percent"] = percent

    def stop(self, result: dict[str, Any]) -> None:
        if self.ended.is_set():
            return
        self.state, self.result, self.progress = "stopped", result, None
        self.stopped_at = self.clock()
        self.ended.set()

    def cancel(self) -> None:
        self.state, self.progress, self.stopped_at = "cancelled", None, self.clock()
        self.ended.set()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "job_id": self.id,
            "job_type": self.type,
            "job_state": self.state,
            "created_at": iso(self.created_at),
            "drive_id": self.drive_id,
        }
        if self.project_id is not None:
            body |= {"project_id": self.project_id, "project_url": self.project_url}
        if self.stopped_at is not None:
            body["stopped_at"] = iso(self.stopped_at)
        if self.state == "running" and self.progress is not None:
            body["progress"] = self.progress
        if self.state == "stopped" and self.result is not None:
            body["result"] = self.result
        return body


@dataclass
class Upload:
    asset_id: str
    artifact_id: str
    job_id: str
    media_key: str
    declared_size: int
    expires_at: float  # on anyio's clock
    arrived: anyio.Event = field(default_factory=anyio.Event)
    head: bytes = b""
    received_size: int = 0


@dataclass
class StoredFile:
    """A rendered file served at a signed download URL."""

    content: bytes
    content_type: str
    filename: str


class World:
    """All sandbox state, in memory."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.drives = {
            d.id: Drive(config=d, media_minutes=d.media_minutes, ai_credits=d.ai_credits)
            for d in config.drives
        }
        self.drive_by_token = {
            token: self.drives[d.id] for d in config.drives for token in d.tokens
        }
        self.projects: dict[str, Project] = {}
        self.jobs: dict[str, Job] = {}
        self.uploads: dict[str, Upload] = {}
        self.files: dict[str, StoredFile] = {}
        self.publishes: dict[str, tuple[Project, Publish]] = {}
        self.conversations: dict[str, Conversation] = {}

    def now(self) -> datetime:
        """The sandbox's clock: this machine's, moved by `clock_offset`."""
        return now() + timedelta(seconds=self.config.clock_offset)

    def project_for(self, drive: Drive, project_id: str) -> Project:
        project = self.projects.get(project_id)
        if project is None:
            raise not_found("Project not found")
        if project.drive_id != drive.id:
            raise ApiError(403, "User does not have access to this drive or project")
        return project

    def job_for(self, drive: Drive, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise not_found(f'No job found for job_id "{job_id}".')
        if job.drive_id != drive.id:
            raise ApiError(403, "User does not have access to this job")
        return job

    def conversation_for(self, drive: Drive, conversation_id: str) -> Conversation:
        """A conversation of the drive's. Another drive's is not found: no route reads a
        conversation, so there is nothing to be refused access to."""
        conversation = self.conversations.get(conversation_id)
        if conversation is None or conversation.drive_id != drive.id:
            raise not_found(f"Conversation {conversation_id} not found")
        return conversation

    def running_publish(self, project_id: str) -> Job | None:
        for job in self.jobs.values():
            if job.type == "publish" and job.project_id == project_id and not job.stopped_at:
                return job
        return None

    def new_project(self, drive: Drive, name: str, **fields: Any) -> Project:
        moment = self.now()
        project = Project(
            id=str(uuid.uuid4()),
            drive_id=drive.id,
            name=name,
            created_by=drive.config.user_id,
            created_at=moment,
            updated_at=moment,
            clock=self.now,
            **fields,
        )
        self.projects[project.id] = project
        return project

    def add_job(self, job: Job) -> Job:
        self.jobs[job.id] = job
        return job
