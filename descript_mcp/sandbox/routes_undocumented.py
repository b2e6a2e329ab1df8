"""The job routes Descript does not document, as live reports found them: timeline export and
import into the drive's media library. Where no report says what Descript answers, the sandbox
answers as its documented routes do."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from descript_mcp.sandbox import schemas
from descript_mcp.sandbox.errors import ApiError, invalid, not_found
from descript_mcp.sandbox.http import authenticate, base_url, read_json, sandbox_of
from descript_mcp.sandbox.renders import TimelinePlan, run_timeline_export
from descript_mcp.sandbox.routes_jobs import import_items, record_job, require_minutes, submitted
from descript_mcp.sandbox.runners import (
    DriveImportPlan,
    run_drive_import,
)
from descript_mcp.sandbox.validation import validate_body

# More files than this in one drive media import: a bare 500, and nothing imported.
DRIVE_IMPORT_MAX_FILES = 3
# The formats whose frame rates may be left unsnapped.
UNSNAPPED_FORMATS = ("premiere", "davinci_resolve")


async def export_timeline(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    body = validate_body(await read_json(request), schemas.EXPORT_TIMELINE)
    fmt = body["format"]
    if fmt == "fcp" and "create_track_per_file" in body:
        raise invalid('"create_track_per_file" is not allowed for format fcp')
    if body.get("snap_frame_rates") is False and fmt not in UNSNAPPED_FORMATS:
        raise invalid('"snap_frame_rates" may be false only for premiere and davinci_resolve')
    if fmt != "aaf" and "strip_spaces" in body:
        raise invalid('"strip_spaces" is allowed only for format aaf')
    project = sandbox.world.project_for(drive, body["project_id"])
    composition = project.composition_for(
        body.get("composition_id"), lacking="has content to export"
    )
    job_id = f"project-timeline-export-{uuid.uuid4()}"
    job = record_job(request, job_id, "export/timeline", drive, project, body, composition)
    plan = TimelinePlan(
        project=project,
        composition=composition,
        format=fmt,
        track_per_file=bool(body.get("create_track_per_file")),
        strip_spaces=bool(body.get("strip_spaces")),
        base_url=base_url(request),
    )
    sandbox.engine.start(job, run_timeline_export(sandbox.engine, job, plan))
    return submitted(job, drive, format=fmt)


async def import_drive_media(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    body = validate_body(
        await read_json(request), schemas.IMPORT_DRIVE_MEDIA, schemas.DRIVE_MEDIA_ITEM_KINDS
    )
    add_media = body["add_media"]
    if len(add_media) > DRIVE_IMPORT_MAX_FILES:
        raise ApiError(500, "Internal server error")
    folder = None
    if "folder_id" in body:
        folder = drive.library_folders().get(body["folder_id"])
        if folder is None:
            raise not_found(f"Media library folder {body['folder_id']} not found")
    paths = {f"{folder}/{key}" if folder else key for key in add_media}
    if paths & set(drive.library):
        raise invalid("Media filename conflicts with existing files in the media library")
    require_minutes(drive, list(add_media))
    job_id = f"drive-media-import-{uuid.uuid4()}"
    job = record_job(request, job_id, "import/drive_media", drive, None, body)
    items, upload_urls = import_items(request, job, add_media)
    plan = DriveImportPlan(drive=drive, items=items, folder=folder)
    sandbox.engine.start(job, run_drive_import(sandbox.engine, job, plan))
    extra = {"upload_urls": upload_urls} if upload_urls else {}
    return submitted(job, drive, **extra)
