"""Reading Descript's answers into models: ResponseFormatError for a body not in the documented
shape, and pages whose unreadable items are set aside rather than failing the whole page."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from descript_mcp.client.models import Page
from descript_mcp.errors import ResponseFormatError

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


def _unreadable(response: httpx.Response, message: str) -> ResponseFormatError:
    request = response.request
    return ResponseFormatError(message, method=request.method, path=request.url.path)


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        message = f"Descript answered {response.status_code} with a body that is not JSON."
        raise _unreadable(response, message) from exc


def parse(adapter: TypeAdapter[Any], response: httpx.Response, data: Any = None) -> Any:
    """Validate `data` (by default the whole JSON body) against the documented shape."""
    try:
        return adapter.validate_python(json_body(response) if data is None else data)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        message = f"Descript's answer does not have the documented shape: {problem}"
        raise _unreadable(response, message) from exc


def parse_model(model: type[M], response: httpx.Response) -> M:
    parsed: M = parse(TypeAdapter(model), response)
    return parsed


def parse_page(item: TypeAdapter[Any], response: httpx.Response) -> Page[Any]:
    """`{"data": [...], "pagination": {"next_cursor"}}`, each item read on its own."""
    body = json_body(response)
    if not isinstance(body, dict) or not isinstance(body.get("data") or [], list):
        raise _unreadable(response, "Descript's list answer has no list of data.")
    items: list[Any] = []
    unreadable: list[Any] = []
    for raw in body.get("data") or []:
        try:
            items.append(item.validate_python(raw))
        except ValidationError as exc:
            logger.warning(
                "an item of %s could not be read (%d problems)",
                response.request.url.path,
                exc.error_count(),
            )
            unreadable.append(raw)
    pagination = body.get("pagination")
    cursor = pagination.get("next_cursor") if isinstance(pagination, dict) else None
    return Page(items=items, next_cursor=cursor or None, unreadable=unreadable)
