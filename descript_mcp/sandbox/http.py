"""Small helpers every sandbox route uses."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from starlette.requests import Request

from descript_mcp.sandbox.config import SandboxConfig
from descript_mcp.sandbox.engine import Engine
from descript_mcp.sandbox.errors import ApiError, invalid, unauthorized
from descript_mcp.sandbox.state import Drive, World


class Running(Protocol):
    """What a route reaches of the sandbox that serves it (`app.Sandbox`)."""

    config: SandboxConfig
    world: World
    engine: Engine


def sandbox_of(request: Request) -> Running:
    running: Running = request.app.state.sandbox
    return running


def bearer(request: Request) -> str | None:
    """The request's bearer token, if it sent one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def authenticate(request: Request, world: World) -> Drive:
    drive = world.drive_by_token.get(bearer(request) or "")
    if drive is None:
        raise unauthorized()
    return drive


async def read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except ValueError as exc:
        raise ApiError(400, "Malformed request body") from exc


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def query_int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid(f'"{name}" must be a number') from exc
    if not low <= value <= high:
        raise invalid(f'"{name}" must be between {low} and {high}')
    return value


def query_time(request: Request, name: str, *, day_end: bool = False) -> datetime | None:
    """An ISO 8601 timestamp or date (a date is that UTC day's start, or end); UTC if no offset."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise invalid(f'"{name}" must be in ISO 8601 date format') from exc
    if len(raw) == 10 and day_end:
        moment += timedelta(days=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def query_choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.query_params.get(name)
    if value is not None and value not in allowed:
        raise invalid(f'"{name}" must be one of [{", ".join(allowed)}]')
    return value


def paginate(items: list[Any], request: Request, *, default_limit: int = 20) -> dict[str, Any]:
    """`{"data": [...], "pagination": {"next_cursor"?}}` with an opaque offset cursor."""
    limit = query_int(request, "limit", default_limit, 1, 100)
    cursor = request.query_params.get("cursor")
    offset = 0
    if cursor:
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(cursor.encode()))["offset"])
        except (ValueError, KeyError, TypeError) as exc:
            raise invalid('"cursor" is invalid') from exc
    page = items[offset : offset + limit]
    pagination: dict[str, str] = {}
    if offset + limit < len(items):
        token = json.dumps({"offset": offset + limit}).encode()
        pagination["next_cursor"] = base64.urlsafe_b64encode(token).decode()
    return {"data": page, "pagination": pagination}
