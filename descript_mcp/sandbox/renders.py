"""Jobs that render a file, stored by the sandbox and offered at a signed URL: publish (a real
WAV as long as the composition) and timeline export."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio

from descript_mcp.sandbox import timelines
from descript_mcp.sandbox.engine import Engine
from descript_mcp.sandbox.media import synthesize_wav
from descript_mcp.sandbox.runners import advance
from descript_mcp.sandbox.signing import signed_url
from descript_mcp.sandbox.state import Composition, Job, Project, Publish, StoredFile, iso


@dataclass
class PublishPlan:
    project: Project
    composition: Composition
    media_type: str  # Video | Audio
    access_level: str
    base_url: str


@dataclass
class TimelinePlan:
    project: Project
    composition: Composition
    format: str
    track_per_file: bool
    strip_spaces: bool
    base_url: str


async def run_publish(engine: Engine, job: Job, plan: PublishPlan, publish: Publish) -> None:
    timings = engine.config.timings
    await anyio.sleep(timings.queued)
    project, composition = plan.project, plan.composition
    share_url = f"{plan.base_url}/_sandbox/view/{publish.slug}"
    await advance(
        engine,
        job,
        f"Rendering {plan.media_type.lower()} export",
        timings.publish,
        0,
        100,
        composition_id=composition.id,
        share_url=share_url,
    )
    # The sandbox renders audio only: a real WAV as long as the composition.
    render = StoredFile(
        content=synthesize_wav(min(publish.duration, 600.0)),
        content_type="audio/wav",
        filename=f"{composition.name}.wav",
    )
    engine.world.files[publish.file_id] = render
    publish.processing = False
    publish.updated_at = job.created_at
    project.touch()
    job.stop(
        {
            "status": "success",
            "composition_id": composition.id,
            "share_url": share_url,
            "media_type": plan.media_type,
            # "Present when the job completed successfully and signing succeeded."
            **(
                {}
                if engine.config.publish_signing_fails
                else _offer(engine, plan.base_url, publish.file_id, engine.config.download_url_ttl)
            ),
        }
    )


async def run_timeline_export(engine: Engine, job: Job, plan: TimelinePlan) -> None:
    """The composition's clips as they are when the export runs, in a file at a signed URL.
    Free: no credits, no media minutes."""
    timings = engine.config.timings
    await anyio.sleep(timings.queued)
    await advance(engine, job, "Exporting timeline", timings.timeline_export, 0, 100)
    extension, content_type = timelines.FILES[plan.format]
    content = timelines.render(
        plan.format,
        timelines.timeline_of(plan.project, plan.composition),
        track_per_file=plan.track_per_file,
        strip_spaces=plan.strip_spaces,
    )
    exported = StoredFile(content, content_type, f"{plan.composition.name}.{extension}")
    file_id = str(uuid.uuid4())
    engine.world.files[file_id] = exported
    job.stop(
        {
            "status": "success",
            "composition_id": plan.composition.id,
            "file_name": exported.filename,
            "content_type": content_type,
            **_offer(engine, plan.base_url, file_id, engine.config.timeline_url_ttl),
        }
    )


def _offer(engine: Engine, base_url: str, file_id: str, ttl: float) -> dict[str, str]:
    """A stored file's signed download link, as a job's result gives it."""
    url, expires = signed_url(base_url, engine.config.signing_key, "files", file_id, ttl)
    return {
        "download_url": url,
        "download_url_expires_at": iso(datetime.fromtimestamp(expires, UTC)),
    }
