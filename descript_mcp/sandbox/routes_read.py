"""Read routes: projects, drive status, agent models, search, transcripts, published pages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from descript_mcp.sandbox import documents, schemas
from descript_mcp.sandbox.catalog import ALIASES, AVAILABLE_MODELS
from descript_mcp.sandbox.errors import ApiError, invalid, not_found
from descript_mcp.sandbox.http import (
    authenticate,
    base_url,
    paginate,
    query_choice,
    query_int,
    query_time,
    read_json,
    sandbox_of,
)
from descript_mcp.sandbox.signing import signed_url
from descript_mcp.sandbox.state import Drive, Media, Project, iso
from descript_mcp.sandbox.validation import is_uuid, validate_body

API_VERSION = "1.2"
SEARCH_TYPES = (
    "project",
    "video",
    "image",
    "audio",
    "project_folder",
    "media_library_folder",
    "layout_pack",
)


async def status(request: Request) -> Response:
    drive = authenticate(request, sandbox_of(request).world)
    return JSONResponse(
        {"drive_id": drive.id, "drive_name": drive.config.name, "api_version": API_VERSION}
    )


async def agent_models(request: Request) -> Response:
    authenticate(request, sandbox_of(request).world)
    return JSONResponse({"availableModels": AVAILABLE_MODELS, "aliases": ALIASES})


def _summary(project: Project) -> dict[str, Any]:
    body = {
        "id": project.id,
        "name": project.name,
        "created_at": iso(project.created_at),
        "updated_at": iso(project.updated_at),
    }
    if project.folder_path:
        body["folder_path"] = project.folder_path
    return body


async def list_projects(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    name = (request.query_params.get("name") or "").lower()
    folder = request.query_params.get("folder_path")
    created_by = request.query_params.get("created_by")
    if created_by == "me":
        created_by = drive.config.user_id
    bounds = {
        key: query_time(request, key, day_end=key.endswith("before"))
        for key in ("created_after", "created_before", "updated_after", "updated_before")
    }
    sort = query_choice(request, "sort", ("name", "created_at", "updated_at", "last_viewed_at"))
    direction = query_choice(request, "direction", ("asc", "desc")) or "desc"

    def keep(p: Project) -> bool:
        return (
            p.drive_id == drive.id
            and name in p.name.lower()
            and (folder is None or (p.folder_path or "") == folder.strip("/"))
            and (created_by is None or p.created_by == created_by)
            and _within(p.created_at, bounds["created_after"], bounds["created_before"])
            and _within(p.updated_at, bounds["updated_after"], bounds["updated_before"])
        )

    field = {"name": "name", "updated_at": "updated_at", "last_viewed_at": "updated_at"}.get(
        sort or "created_at", "created_at"
    )
    projects = sorted(
        filter(keep, sandbox.world.projects.values()),
        key=lambda p: (getattr(p, field), p.id),
        reverse=direction == "desc",
    )
    return JSONResponse(paginate([_summary(p) for p in projects], request))


def _within(moment: Any, after: Any, before: Any) -> bool:
    return (after is None or moment >= after) and (before is None or moment <= before)


async def get_project(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    project_id = request.path_params["project_id"]
    if not is_uuid(project_id):
        raise invalid("Invalid project_id format")
    project = sandbox.world.project_for(drive, project_id)
    body = _summary(project) | {
        "drive_id": project.drive_id,
        "media_files": {
            key: {"type": m.kind, **({"duration": m.duration} if m.duration is not None else {})}
            for key, m in project.media.items()
        },
        "compositions": [
            {
                "id": c.id,
                "name": c.name,
                "duration": project.duration_of(c),
                "media_type": project.media_type_of(c),
            }
            for c in project.compositions
        ],
        "publishes": [
            {
                "share_url": f"{base_url(request)}/_sandbox/view/{p.slug}",
                "composition_id": p.composition_id,
                "access_level": p.access_level,
                "media_type": p.media_type,
                "published_at": iso(p.published_at),
                "updated_at": iso(p.updated_at),
                "name": p.name,
            }
            for p in project.publishes
            if not p.processing
        ],
    }
    return JSONResponse(body)


async def search(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    query = (request.query_params.get("query") or "").strip().lower()
    if not query:
        raise invalid('"query" is required')
    if not drive.config.search_enabled:
        raise not_found("Search is not enabled for this user")
    types = request.query_params.getlist("type") or list(SEARCH_TYPES)
    for kind in types:
        if kind not in SEARCH_TYPES:
            raise invalid(f'"type" must be one of [{", ".join(SEARCH_TYPES)}]')
    matches = _search_matches(request, drive)
    owners = request.query_params.getlist("owner")
    after = query_time(request, "updated_after")
    before = query_time(request, "updated_before", day_end=True)
    sort = query_choice(request, "sort", ("relevance", "newest", "oldest")) or "relevance"
    limit = query_int(request, "limit", 30, 1, 100)
    owner = {"id": drive.config.user_id, "name": drive.config.user_name}
    hits: list[tuple[int, dict[str, Any]]] = []
    folders: dict[str, Project] = {}
    for project in sandbox.world.projects.values():
        if project.drive_id != drive.id or not _within(project.updated_at, after, before):
            continue
        if owners and project.created_by not in owners:
            continue
        common = {"owner": owner, "updated_at": iso(project.updated_at)}
        web = f"{base_url(request)}/_sandbox/web/{project.id}"
        named = "name" in matches and query in project.name.lower()
        spoken = "content" in matches and any(
            query in s.text.lower() for m in project.media.values() for s in m.words
        )
        if "project" in types and (named or spoken):
            hits.append(
                (
                    0 if named else 2,
                    {
                        "type": "project",
                        "project_id": project.id,
                        "name": project.name,
                        "url": web,
                        **common,
                    },
                )
            )
        for key, media in project.media.items():
            if media.kind in types and query in key.lower() and _named_or_seen(media, matches):
                hit: dict[str, Any] = {
                    "type": media.kind,
                    "asset_id": _asset_id(project, key),
                    "name": key,
                    "location": "project",
                    "project_id": project.id,
                    "url": web,
                    **common,
                }
                if media.duration is not None:
                    hit["duration"] = media.duration
                hits.append((1, hit))
        for depth, segment in enumerate((project.folder_path or "").split("/")):
            if segment and query in segment.lower():
                path = "/".join((project.folder_path or "").split("/")[: depth + 1])
                folders.setdefault(path, project)
    if not owners or drive.config.user_id in owners:
        hits += _library_hits(drive, query, types, matches, (after, before), owner)
    if "project_folder" in types and "name" in matches:
        for path, project in folders.items():
            hits.append(
                (
                    1,
                    {
                        "type": "project_folder",
                        "folder_id": _folder_id(drive.id, path),
                        "name": path.rsplit("/", 1)[-1],
                        "owner": owner,
                        "updated_at": iso(project.updated_at),
                    },
                )
            )
    if sort == "relevance":
        hits.sort(key=lambda h: h[0])
    else:
        hits.sort(key=lambda h: h[1]["updated_at"], reverse=sort == "newest")
    return JSONResponse({"results": [hit for _, hit in hits[:limit]]})


def _library_hits(
    drive: Drive,
    query: str,
    types: list[str],
    matches: list[str],
    bounds: tuple[datetime | None, datetime | None],
    owner: dict[str, str],
) -> list[tuple[int, dict[str, Any]]]:
    """Files and folders of the drive's media library whose names match, or, for a visual
    search, the files whose pictures do."""
    hits: list[tuple[int, dict[str, Any]]] = []
    for path, file in drive.library.items():
        name = path.rsplit("/", 1)[-1]
        kind = file.media.kind
        found = query in name.lower() and _named_or_seen(file.media, matches)
        if kind in types and found and _within(file.added_at, *bounds):
            hit: dict[str, Any] = {
                "type": kind,
                "asset_id": str(uuid.uuid5(uuid.UUID(drive.id), f"media_library_file/{path}")),
                "name": name,
                "location": "media_library",
                "owner": owner,
                "updated_at": iso(file.added_at),
            }
            if file.media.duration is not None:
                hit["duration"] = file.media.duration
            hits.append((1, hit))
    if "media_library_folder" not in types or "name" not in matches:
        return hits
    for folder_id, path in drive.library_folders().items():
        name = path.rsplit("/", 1)[-1]
        latest = max(f.added_at for p, f in drive.library.items() if p.startswith(f"{path}/"))
        if query in name.lower() and _within(latest, *bounds):
            folder = {
                "type": "media_library_folder",
                "folder_id": folder_id,
                "name": name,
                "location": "media_library",
                "owner": owner,
                "updated_at": iso(latest),
            }
            hits.append((1, folder))
    return hits


def _search_matches(request: Request, drive: Drive) -> list[str]:
    """The kinds of match asked for. `visual` (what videos and images show) is an Enterprise
    drive's, alone; the sandbox's media have no pictures to look at, so a video's or an
    image's name stands for what it shows."""
    matches = request.query_params.getlist("match") or ["name", "content"]
    for match in matches:
        if match not in ("name", "content", "visual"):
            raise invalid('"match" must be one of [name, content, visual]')
    if "visual" in matches and len(set(matches)) > 1:
        raise invalid('"match" visual cannot be combined with other match kinds')
    if "visual" in matches and not drive.config.visual_search:
        raise ApiError(403, "Visual search is not available for this drive", code="Forbidden")
    return matches


def _named_or_seen(media: Media, matches: list[str]) -> bool:
    """Whether a media item whose name holds the query is a hit for these kinds of match."""
    return "name" in matches or ("visual" in matches and media.kind in ("video", "image"))


def _asset_id(project: Project, key: str) -> str:
    return str(uuid.uuid5(uuid.UUID(project.id), key))


def _folder_id(drive_id: str, path: str) -> str:
    return str(uuid.uuid5(uuid.UUID(drive_id), path))


async def export_transcript(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    body = validate_body(await read_json(request), schemas.EXPORT_TRANSCRIPT)
    project = sandbox.world.project_for(drive, body["project_id"])
    composition = project.first_or(body.get("composition_id"))
    sentences = documents.timeline([m.words for m in project.clip_media(composition)])
    content = documents.render(
        body["format"], composition.name, documents.paragraphs(sentences, body)
    )
    filename = f"transcript.{documents.EXTENSIONS[body['format']]}"
    return Response(
        content,
        media_type=documents.CONTENT_TYPES[body["format"]],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Composition-Id": composition.id,
        },
    )


async def published_project(request: Request) -> Response:
    sandbox = sandbox_of(request)
    drive = authenticate(request, sandbox.world)
    found = sandbox.world.publishes.get(request.path_params["slug"])
    if found is None:
        raise ApiError(404, "Published project not found")
    project, record = found
    if project.drive_id != drive.id and record.access_level == "private":
        raise ApiError(403, "You do not have access to this published project")
    if project.drive_id != drive.id and record.access_level == "drive":
        raise ApiError(401, "Private to drive, user must log in to view this project")
    if record.processing:
        raise ApiError(
            409,
            "The published project is still processing",
            code="conflict",
            extra={"state": "processing"},
        )
    composition = project.find_composition(record.composition_id)
    sentences = documents.timeline([m.words for m in project.clip_media(composition)])
    subtitles = documents.webvtt(documents.paragraphs(sentences, {"include_speaker_labels": "off"}))
    url, expires = signed_url(
        base_url(request),
        sandbox.config.signing_key,
        "files",
        record.file_id,
        sandbox.config.download_url_ttl,
    )
    author = sandbox.world.drives[project.drive_id].config.user_name.split()
    return JSONResponse(
        {
            "download_url": url,
            "download_url_expires_at": iso(datetime.fromtimestamp(expires, UTC)),
            "project_id": project.id,
            "publish_type": record.media_type,
            "privacy": record.access_level,
            "metadata": {
                "title": record.name,
                "duration_seconds": record.duration,
                "duration_formatted": documents.clock(record.duration),
                "published_at": iso(record.published_at),
                "published_by": {"first_name": author[0], "last_name": author[-1]},
            },
            "subtitles": subtitles,
        }
    )
