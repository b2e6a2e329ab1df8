"""What each job does over time: queued, running with changing progress, then stopped."""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import anyio

from descript_mcp.sandbox.engine import Engine, MediaFetchError
from descript_mcp.sandbox.media import (
    UnreadableMediaError,
    media_kind,
    read_duration,
    remove_fillers,
    spoken_words,
    synthesize_wav,
)
from descript_mcp.sandbox.state import (
    Composition,
    Drive,
    Job,
    LibraryFile,
    Media,
    Project,
    Upload,
)


@dataclass
class ImportItem:
    key: str
    url: str | None = None
    upload: Upload | None = None
    tracks: list[dict[str, Any]] = field(default_factory=list)  # validated JSON


@dataclass
class ImportPlan:
    drive: Drive
    project: Project
    items: list[ImportItem]
    compositions: list[dict[str, Any]]  # validated JSON
    # Clips (media key, muted) to append to compositions the project has.
    updates: list[tuple[Composition, list[tuple[str, bool]]]] = field(default_factory=list)
    # A new project given no compositions gets one of all its media, as one live report has
    # Descript do (behind the empty placeholder every new project starts with).
    compose_all: bool = False


@dataclass
class DriveImportPlan:
    drive: Drive
    items: list[ImportItem]
    folder: str | None  # the media library folder the items' paths start in


@dataclass
class AgentPlan:
    drive: Drive
    project: Project
    prompt: str
    composition: Composition | None
    model: str
    cost_tier: str
    conversation_id: str
    new_project: bool


async def advance(
    engine: Engine, job: Job, label: str, seconds: float, start: int, end: int, **extra: object
) -> None:
    """Spend `seconds` on one phase, moving the percent from `start` to `end` in steps."""
    if job.stuck:  # as a stuck Descript job looks: running, "Processing", 0 %, forever
        job.set_progress("Processing", 0)
        await anyio.sleep_forever()
    steps = max(1, engine.config.timings.progress_steps)
    for step in range(steps):
        job.set_progress(label, start + (end - start) * step // steps, **extra)
        await anyio.sleep(seconds / steps)


async def run_import(engine: Engine, job: Job, plan: ImportPlan) -> None:
    timings = engine.config.timings
    await anyio.sleep(timings.queued)
    project = plan.project

    def keep(item: ImportItem, media: Media) -> None:
        project.media[item.key] = media

    files = [item for item in plan.items if not item.tracks]
    statuses = await _import_files(engine, job, files, keep)
    for item in (item for item in plan.items if item.tracks):
        sequence = _build_sequence(project, item)
        project.media[item.key] = sequence
        statuses[item.key] = {"status": "success", "duration_seconds": sequence.duration}
    await advance(engine, job, "Transcribing", timings.transcribe, 80, 100)

    specs = plan.compositions
    if not specs and plan.compose_all:
        specs = _all_of(project, plan, statuses)
    created = [_add_composition(project, spec) for spec in specs]
    for composition, clips in plan.updates:
        project.add_clips(composition, clips)
    project.touch()
    imported = [project.media[key] for key, s in statuses.items() if s["status"] == "success"]
    created_compositions = [{"id": c.id, "name": c.name} for c in created]
    _stop_import(job, plan.drive, statuses, imported, created_compositions=created_compositions)


async def run_drive_import(engine: Engine, job: Job, plan: DriveImportPlan) -> None:
    """Files into the drive's media library, at their keys' paths (in `folder`, if given)."""
    timings = engine.config.timings
    await anyio.sleep(timings.queued)
    imported: list[Media] = []

    def keep(item: ImportItem, media: Media) -> None:
        media.key = f"{plan.folder}/{item.key}" if plan.folder else item.key
        plan.drive.library[media.key] = LibraryFile(media, engine.world.now())
        imported.append(media)

    statuses = await _import_files(engine, job, plan.items, keep)
    await advance(engine, job, "Transcribing", timings.transcribe, 80, 100)
    _stop_import(job, plan.drive, statuses, imported)


async def _import_files(
    engine: Engine, job: Job, files: list[ImportItem], keep: Callable[[ImportItem, Media], None]
) -> dict[str, dict[str, Any]]:
    """Fetch or receive each file in turn and `keep` it: kept at once, it stays if the job is
    cancelled later. The media status of each."""
    statuses: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(files):
        percent = 80 * index // max(1, len(files))
        try:
            media = await _import_one(engine, job, item, percent)
        except (MediaFetchError, UnreadableMediaError) as exc:
            statuses[item.key] = {"status": "failed", "error_message": str(exc)}
            continue
        await advance(
            engine,
            job,
            f"Importing media: {item.key}",
            engine.config.timings.import_item,
            percent,
            percent + 80 // max(1, len(files)),
        )
        keep(item, media)
        statuses[item.key] = {"status": "success", "duration_seconds": media.duration}
    return statuses


def _stop_import(
    job: Job,
    drive: Drive,
    statuses: dict[str, dict[str, Any]],
    imported: list[Media],
    **extra: Any,
) -> None:
    """Spend the media minutes of what was imported; stop with the import's result."""
    seconds_used = math.ceil(sum(m.duration or 0 for m in imported if m.kind != "sequence"))
    drive.media_minutes = max(0.0, drive.media_minutes - seconds_used / 60)
    if statuses and not imported:
        first_key, first = next(iter(statuses.items()))
        job.stop(
            {
                "status": "error",
                "error_code": "import_failed",
                "error_message": f"No media could be imported. {first_key}: "
                f"{first['error_message']}",
            }
        )
        return
    failed = any(s["status"] == "failed" for s in statuses.values())
    job.stop(
        {
            "status": "partial" if failed else "success",
            "media_status": statuses,
            "media_seconds_used": seconds_used,
            **extra,
        }
    )


async def _import_one(engine: Engine, job: Job, item: ImportItem, percent: int) -> Media:
    if item.upload is not None:
        job.set_progress(f"Waiting for upload: {item.key}", percent)
        upload = item.upload
        with anyio.move_on_after(max(0.0, upload.expires_at - time.time())):
            await upload.arrived.wait()
        if not upload.arrived.is_set():
            raise MediaFetchError("The upload URL expired before the file was uploaded")
        head, size, name = upload.head, upload.received_size, item.key
    else:
        assert item.url is not None
        job.set_progress(f"Importing media: {item.key}", percent)
        fetched = await engine.fetch_media(item.url)
        head, size = fetched.head, fetched.size
        # Descript reads the media type from the key's extension, else from the URL path.
        name = item.key if media_kind(item.key) else PurePosixPath(urlsplit(item.url).path).name
    kind = media_kind(name)
    if kind is None:
        message = (
            "Uploaded file has invalid or unsupported media content"
            if item.upload
            else "Failed to read media metadata"
        )
        raise UnreadableMediaError(message)
    duration = read_duration(kind, head, size, name=name)
    seed = int(hashlib.sha256(item.key.encode()).hexdigest(), 16) % 6
    return Media(
        key=item.key,
        kind=kind,
        duration=duration,
        words=spoken_words(duration, seed=seed),
        ready=True,
    )


def _all_of(
    project: Project, plan: ImportPlan, statuses: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    """One composition of the import's media, in order: its sequences if it made any (their
    tracks play inside them), else its files."""
    imported = [i for i in plan.items if statuses.get(i.key, {}).get("status") == "success"]
    sequences = [i for i in imported if i.tracks]
    clips = [{"media": item.key} for item in sequences or imported]
    return [{"name": project.name, "clips": clips}] if clips else []


def _build_sequence(project: Project, item: ImportItem) -> Media:
    duration, words = 0.0, []
    for track in item.tracks:
        source = project.media.get(str(track["media"]))
        if source is None or not source.ready:
            continue
        offset = float(track.get("offset", 0) or 0)
        duration = max(duration, offset + (source.duration or 0.0))
        if not track.get("mute"):
            words.extend(source.words)
    return Media(
        key=item.key, kind="sequence", duration=round(duration, 3), words=words, ready=True
    )


def as_clips(clips: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """Validated JSON clips as a composition keeps them: (media key, muted)."""
    return [(str(c["media"]), bool(c.get("mute", False))) for c in clips]


def _add_composition(project: Project, spec: dict[str, Any]) -> Composition:
    composition = Composition(
        id=str(uuid.uuid4()),
        name=str(spec.get("name") or f"Composition {len(project.compositions) + 1}"),
        width=int(spec.get("width", 1920)),
        height=int(spec.get("height", 1080)),
        clips=[],
    )
    project.add_clips(composition, as_clips(spec["clips"]))
    project.compositions.append(composition)
    return composition


AGENT_OPERATIONS = (
    ("studio sound", "Applying Studio Sound to clip {n}"),
    ("filler", "Removing filler words"),
    ("caption", "Adding captions"),
    ("pause", "Shortening word gaps"),
)
CREDITS_BY_TIER = {"low": 1.0, "medium": 3.0, "high": 8.0}


async def run_agent(engine: Engine, job: Job, plan: AgentPlan) -> None:
    timings = engine.config.timings
    await anyio.sleep(timings.queued)
    project, prompt = plan.project, plan.prompt.lower()
    changes: list[str] = []
    if plan.new_project:
        await advance(engine, job, "Drafting a project from the prompt", timings.agent_step, 0, 40)
        draft = synthesize_wav(15.0)
        media = Media(
            key="Underlord draft.wav",
            kind="audio",
            duration=15.0,
            words=spoken_words(15.0),
            ready=True,
        )
        project.media[media.key] = media
        _add_composition(project, {"name": "Underlord draft", "clips": [{"media": media.key}]})
        changes.append(f"drafted a 15-second composition ({len(draft)} bytes of narration)")
    targets = [plan.composition] if plan.composition else project.compositions
    targets = [c for c in targets if project.has_content(c)]
    if not targets:
        job.stop(
            {
                "status": "error",
                "error_code": "agent_execution_failed",
                "error_message": "There is no media in the project for the agent to edit. "
                "Import media first.",
                "resolved_model": plan.model,
                "conversation_id": plan.conversation_id,
            }
        )
        return
    clips = [m for c in targets for m in project.clip_media(c)]
    media_seconds = 0
    for keyword, label in AGENT_OPERATIONS:
        if keyword not in prompt:
            continue
        if keyword == "studio sound":
            for n, media in enumerate(clips, start=1):
                await advance(engine, job, label.format(n=n), timings.agent_step, 40, 60)
                media.studio_sound = True
            media_seconds += math.ceil(sum(m.duration or 0 for m in clips))
            changes.append(f"applied Studio Sound to {len(clips)} clip(s)")
        elif keyword == "filler":
            await advance(engine, job, label, timings.agent_step, 60, 75)
            removed = sum(remove_fillers(m.words) for m in clips)
            changes.append(f"removed {removed} filler word(s)")
        elif keyword == "caption":
            await advance(engine, job, label, timings.agent_step, 75, 90)
            for composition in targets:
                composition.captions = True
            changes.append(f"added captions to {len(targets)} composition(s)")
        else:
            await advance(engine, job, label, timings.agent_step, 75, 90)
            changes.append("shortened long word gaps")
    if not changes:
        await advance(engine, job, "Editing script", timings.agent_step, 40, 90)
    project.touch()
    credits = _credits_used(plan)
    plan.drive.ai_credits = max(0.0, plan.drive.ai_credits - credits)
    response = (
        ("Done: " + "; ".join(changes) + ".")
        if changes
        else ("I reviewed the project and found nothing to change for that request.")
    )
    job.stop(
        {
            "status": "success",
            "agent_response": response,
            "project_changed": bool(changes),
            "media_seconds_used": media_seconds,
            "ai_credits_used": credits,
            "resolved_model": plan.model,
            "conversation_id": plan.conversation_id,
        }
    )


def _credits_used(plan: AgentPlan) -> float:
    """Fractional, as Descript's live answers are: the tier's price plus up to 50 %."""
    digest = int(hashlib.sha256(plan.prompt.encode()).hexdigest(), 16)
    return round(CREDITS_BY_TIER[plan.cost_tier] * (1 + (digest % 500) / 1000), 3)
