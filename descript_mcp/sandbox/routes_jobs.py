"""The job routes: import, agent, publish, and reading, listing and cancelling jobs; and what
the undocumented job routes (routes_undocumented.py) share with them."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from descript_mcp.sandbox import schemas
from descript_mcp.sandbox.catalog import resolve_model
from descript_mcp.sandbox.errors import ApiError, invalid
from descript_mcp.sandbox.http import (
    Running,
    authenticate,
    base_url,
    bearer,
    paginate,
    query_choice,
    query_time,
    read_json,
    sandbox_of,
)
from descript_mcp.sandbox.renders import PublishPlan, run_publish
from descript_mcp.sandbox.runners import (
    CREDITS_BY_TIER,
    AgentPlan,
    ImportItem,
    ImportPlan,
    as_clips,
    run_agent,
    run_import,
)
from descript_mcp.sandbox.signing import signed_url
from descript_mcp.sandbox.state import (
    Composition,
    Conversation,
    Drive,
    Job,
    Project,
    Publish,
    Upload,
)
from descript_mcp.sandbox.validation import is_uuid, validate_body
from descript_mcp.sandbox.workspaces import team_access_in

# The spec's enum; one live report saw the others accepted too (lists_undocumented_job_types).
DOCUMENTED_JOB_TYPES = ("import/project_media", "agent")
UNDOCUMENTED_JOB_TYPES = ("publish", "export/timeline", "import/drive_media")


def submitted(job: Job, drive: Drive, **extra: Any) -> JSONResponse:
    """The 201 answer: the job, its drive, and its project unless it has none."""
    body: dict[str, Any] = {"job_id": job.id, "drive_id": drive.id, "drive_name": drive.config.name}
    if job.project_id is not None:
        body |= {"project_id": job.project_id, "project_url": job.project_url}
    return JSONResponse(body | extra, status_code=201)


def _project_url(request: Request, project: Project, composition: Composition | None = None) -> str:
    url = f"{base_url(request)}/_sandbox/web/{project.id}"
    return f"{url}/{composition.short_id}" if composition else url


def record_job(
    request: Request,
    job_id: str,
    job_type: str,
    drive: Drive,
    project: Project | None,
    body: dict[str, Any],
    composition: Composition | None = None,
) -> Job:
    world = sandbox_of(request).world
    return world.add_job(
        Job(
            id=job_id,
            type=job_type,
            drive_id=drive.id,
            project_id=project.id if project else None,
            project_url=_project_url(request, project, composition) if project else None,
            created_at=world.now(),
            callback_url=body.get("callback_url"),
            token=bearer(request),
            clock=world.now,
        )
    )


def _new_project(
    sandbox: Running, drive: Drive, body: dict[str, Any], default_name: str
) -> Project:
    team_access = team_access_in(drive, body.get("workspace_name"), body.get("team_access"))
    project = sandbox.world.new_project(
        drive,
        body.get("project_name") or default_name,
        folder_path=(body.get("folder_name") or "").strip("/") or None,
        team_access=team_access or "none",
    )
    # New projects start with an empty placeholder composition, as Descript's do.
    project.compositions.append(Composition(str(uuid.uuid4()), "Composition 1", 1920, 1080, []))
    return project


async def import_project_media(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    body = validate_body(await read_json(request), schemas.IMPORT_PROJECT_MEDIA)
    add_media: dict[str, dict[str, Any]] = body.get("add_media") or {}
    project = sandbox.world.project_for(drive, body["project_id"]) if "project_id" in body else None
    # The schema has update_compositions require project_id.
    updates = [
        (project.find_composition(update["composition_id"]), as_clips(update["append_clips"]))
        for update in body.get("update_compositions") or []
        if project is not None
    ]
    if project is not None and set(add_media) & set(project.media):
        raise invalid("Media filename conflicts with existing files in the project")
    known = set(add_media) | set(project.media if project else ())
    for key, item in add_media.items():
        for index, track in enumerate(item.get("tracks", [])):
            if track["media"] not in known or "tracks" in add_media.get(track["media"], {}):
                raise invalid(
                    f'"add_media.{key}.tracks[{index}].media" refers to unknown media '
                    f'"{track["media"]}"'
                )
    for where, clips in _clip_lists(body):
        for index, clip in enumerate(clips):
            if clip["media"] not in known:
                raise invalid(f'"{where}[{index}].media" refers to unknown media "{clip["media"]}"')
    require_minutes(drive, [key for key, item in add_media.items() if "tracks" not in item])
    compose_all = project is None
    if project is None:
        project = _new_project(sandbox, drive, body, "Untitled project")
    job = record_job(
        request,
        f"project-media-import-{uuid.uuid4()}",
        "import/project_media",
        drive,
        project,
        body,
    )
    items, upload_urls = import_items(request, job, add_media)
    plan = ImportPlan(
        drive=drive,
        project=project,
        items=items,
        compositions=body.get("add_compositions") or [],
        updates=updates,
        compose_all=compose_all,
    )
    sandbox.engine.start(job, run_import(sandbox.engine, job, plan))
    extra = {"upload_urls": upload_urls} if upload_urls else {}
    return submitted(job, drive, **extra)


def _clip_lists(body: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Each list of clips the import names, with where it is in the request."""
    for number, composition in enumerate(body.get("add_compositions") or []):
        yield f"add_compositions[{number}].clips", composition["clips"]
    for number, update in enumerate(body.get("update_compositions") or []):
        yield f"update_compositions[{number}].append_clips", update["append_clips"]


def require_minutes(drive: Drive, files: list[str]) -> None:
    """402 unless the drive has a media minute for each file, as Descript reckons up front."""
    if len(files) > drive.media_minutes:
        raise ApiError(
            402,
            f"Insufficient media minutes to start the job ({len(files)} minutes "
            f"required, {int(drive.media_minutes)} available)",
        )


def import_items(
    request: Request, job: Job, add_media: dict[str, dict[str, Any]]
) -> tuple[list[ImportItem], dict[str, dict[str, str]]]:
    """An import's items, and a signed upload URL for each sent by direct upload."""
    sandbox = sandbox_of(request)
    items, upload_urls = [], {}
    for key, item in add_media.items():
        if "content_type" in item:
            asset_id = str(uuid.uuid4())
            url, expires = signed_url(
                base_url(request),
                sandbox.config.signing_key,
                "uploads",
                asset_id,
                sandbox.config.upload_url_ttl,
            )
            upload = Upload(
                asset_id=asset_id,
                artifact_id=str(uuid.uuid4()),
                job_id=job.id,
                media_key=key,
                declared_size=item["file_size"],
                expires_at=expires,
            )
            sandbox.world.uploads[asset_id] = upload
            upload_urls[key] = {
                "upload_url": url,
                "asset_id": asset_id,
                "artifact_id": upload.artifact_id,
            }
            items.append(ImportItem(key=key, upload=upload))
        else:
            items.append(ImportItem(key=key, url=item.get("url"), tracks=item.get("tracks", [])))
    return items, upload_urls


async def agent_edit(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    body = validate_body(await read_json(request), schemas.AGENT)
    if not body["prompt"].strip():
        raise invalid('"prompt" is not allowed to be empty')
    if not drive.config.agent_enabled:
        raise ApiError(403, "Agent usage has been disabled by your admin")
    model, tier = resolve_model(body.get("model"))
    composition = None
    if "project_id" in body:
        project = sandbox.world.project_for(drive, body["project_id"])
        if "composition_id" in body:
            composition = project.find_composition(body["composition_id"])
    elif "project_name" in body:
        project = None
    else:
        raise invalid('"value" must contain at least one of [project_id, project_name]')
    earlier = None
    if "conversation_id" in body:
        earlier = sandbox.world.conversation_for(drive, body["conversation_id"])
        if project is None or earlier.project_id != project.id:
            raise invalid(f"Conversation {earlier.id} belongs to a different project")
        if "model" not in body:  # a resumed conversation keeps its model, and its price
            model, tier = "inherited", earlier.cost_tier
    required = CREDITS_BY_TIER[tier]
    if drive.ai_credits < required:
        raise ApiError(
            402,
            f"Insufficient AI credits to start the job ({int(required)} credits "
            f"required, {int(drive.ai_credits)} available)",
        )
    new_project = project is None
    if project is None:
        project = _new_project(sandbox, drive, body, body["project_name"])
    conversation = earlier or Conversation(str(uuid.uuid4()), drive.id, project.id, tier)
    sandbox.world.conversations[conversation.id] = conversation
    conversation_id = conversation.id
    job = record_job(
        request, f"project-agent-edit-{uuid.uuid4()}", "agent", drive, project, body, composition
    )
    plan = AgentPlan(
        drive=drive,
        project=project,
        prompt=body["prompt"],
        composition=composition,
        model=model,
        cost_tier=tier,
        conversation_id=conversation_id,
        new_project=new_project,
    )
    sandbox.engine.start(job, run_agent(sandbox.engine, job, plan))
    return submitted(job, drive, resolved_model=model, conversation_id=conversation_id)


async def publish(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    body = validate_body(await read_json(request), schemas.PUBLISH)
    project = sandbox.world.project_for(drive, body["project_id"])
    with_content = [c for c in project.compositions if project.has_content(c)]
    if "composition_id" in body:
        composition = project.find_composition(body["composition_id"])
        if not project.has_content(composition):
            names = ", ".join(c.name for c in with_content) or "none"
            raise invalid(
                f"Composition {composition.id} is empty. Compositions with content: {names}"
            )
    elif with_content:
        composition = with_content[0]
    else:
        raise invalid(f"No composition in project {project.id} has content to publish")
    kind = project.media_type_of(composition)
    if body.get("media_type") == "Video" and kind != "video":
        raise ApiError(
            422,
            f"Composition {composition.id} has no video content and cannot be "
            'published as video. Retry with media_type "Audio".',
        )
    media_type = body.get("media_type") or ("Video" if kind == "video" else "Audio")
    access_level = body.get("access_level") or drive.config.default_access_level
    if access_level not in drive.config.allowed_access_levels:
        # The spec's example says no more, so a client cannot tell this cause from others.
        raise ApiError(403, "Forbidden")
    if sandbox.world.running_publish(project.id):
        raise ApiError(
            429,
            "A publish job is already running for this project. Please wait for it to complete.",
            code="rate_limited",
        )
    record = _publish_record(sandbox, project, composition, media_type.lower(), access_level)
    job_id = f"project-media-publish-{project.id}-{uuid.uuid4()}"
    job = record_job(request, job_id, "publish", drive, project, body, composition)
    plan = PublishPlan(
        project=project,
        composition=composition,
        media_type=media_type,
        access_level=access_level,
        base_url=base_url(request),
    )
    sandbox.engine.start(job, run_publish(sandbox.engine, job, plan, record))
    return submitted(job, drive)


def _publish_record(
    sandbox: Running, project: Project, composition: Composition, media_type: str, access_level: str
) -> Publish:
    """Republishing a composition as the same media type reuses its share URL."""
    for record in project.publishes:
        if (record.composition_id, record.media_type) == (composition.id, media_type):
            record.access_level, record.processing = access_level, True
            record.duration = project.duration_of(composition)
            return record
    moment = sandbox.world.now()
    record = Publish(
        slug=secrets.token_urlsafe(8),
        composition_id=composition.id,
        access_level=access_level,
        media_type=media_type,
        published_at=moment,
        updated_at=moment,
        name=composition.name,
        file_id=str(uuid.uuid4()),
        duration=project.duration_of(composition),
    )
    project.publishes.append(record)
    sandbox.world.publishes[record.slug] = (project, record)
    return record


async def get_job(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    return JSONResponse(sandbox.world.job_for(drive, request.path_params["job_id"]).to_json())


async def cancel_job(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    sandbox.engine.cancel(sandbox.world.job_for(drive, request.path_params["job_id"]))
    return Response(status_code=204)


async def list_jobs(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    project_id = request.query_params.get("project_id")
    if project_id is not None and not is_uuid(project_id):
        raise invalid('"project_id" must be a valid GUID')
    listable: tuple[str, ...] = DOCUMENTED_JOB_TYPES
    if sandbox.config.lists_undocumented_job_types:
        listable += UNDOCUMENTED_JOB_TYPES
    job_type = query_choice(request, "type", listable)
    moment = sandbox.world.now()
    after = query_time(request, "created_after") or moment - timedelta(days=7)
    before = query_time(request, "created_before", day_end=True) or moment
    if after < moment - timedelta(days=30, minutes=1):
        raise invalid('"created_after" must be within the last 30 days')
    jobs = [
        job.to_json()
        for job in sorted(sandbox.world.jobs.values(), key=lambda j: j.created_at, reverse=True)
        if job.drive_id == drive.id
        and (project_id is None or job.project_id == project_id)
        and (job_type is None or job.type == job_type)
        and after <= job.created_at <= before
    ]
    return JSONResponse(paginate(jobs, request))
