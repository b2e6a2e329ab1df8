"""Request validation with Joi-style messages, as Descript words them:
`"add_compositions[0].fps" is not allowed`, `"project_id" must be a valid GUID`."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from descript_mcp.sandbox.errors import ApiError
from descript_mcp.sandbox.schemas import MEDIA_ITEM_KINDS

UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("uuid")
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(UUID_PATTERN.match(value))


@_FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def is_uuid(value: str) -> bool:
    return bool(UUID_PATTERN.match(value))


# How Descript names each kind of add_media item in its messages.
_KIND_NAMES = {"url": "URL Import", "upload": "Direct Upload", "sequence": "Multitrack Sequence"}


def validate_body(
    body: Any,
    schema: dict[str, Any],
    media_kinds: Mapping[str, dict[str, Any]] = MEDIA_ITEM_KINDS,
) -> dict[str, Any]:
    """Check a JSON body against a request schema, and its add_media items against the kinds
    the route takes; raise 400 with Joi-style details."""
    if not isinstance(body, dict):
        raise ApiError(400, '"value" must be of type object')
    problems = [_describe(error, ()) for error in _errors(body, schema)]
    media = body.get("add_media")
    if isinstance(media, dict):
        for key, item in media.items():
            problems.extend(_media_item_problems(key, item, media_kinds))
    if problems:
        problems.sort(key=lambda p: p["path"])
        raise ApiError(400, problems[0]["message"], extra={"details": problems})
    return body


def _errors(instance: Any, schema: dict[str, Any]) -> list[ValidationError]:
    validator = Draft202012Validator(schema, format_checker=_FORMATS)
    return sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))


def _media_item_problems(
    key: str, item: Any, kinds: Mapping[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    prefix: tuple[str | int, ...] = ("add_media", key)
    if not isinstance(item, dict):
        return []
    if "tracks" in item:
        kind = "sequence"
    elif "url" in item:
        kind = "url"
    elif "content_type" in item or "file_size" in item:
        kind = "upload"
    else:
        kind = None
    if kind is None or kind not in kinds:
        names = ", ".join(_KIND_NAMES[name] for name in kinds)
        message = f'"{_dotted(prefix)}" must match exactly one of [{names}]'
        return [{"message": message, "path": list(prefix)}]
    return [_describe(error, prefix) for error in _errors(item, kinds[kind])]


def _describe(error: ValidationError, prefix: Sequence[str | int]) -> dict[str, Any]:
    path = [*prefix, *error.absolute_path]
    where = _dotted(path)
    # The failing part of a request and of its schema: JSON, as jsonschema found them.
    instance: Any = error.instance
    schema: Any = error.schema
    value: Any = error.validator_value
    match error.validator:
        case "additionalProperties":
            extra = sorted(set(instance) - set(schema.get("properties", {})))[0]
            path = [*path, extra]
            message = f'"{_dotted(path)}" is not allowed'
        case "required":
            missing = re.findall(r"'([^']+)' is a required property", error.message)[0]
            path = [*path, missing]
            message = f'"{_dotted(path)}" is required'
        case "dependentRequired":
            needing, peer = next(
                (name, peer)
                for name, peers in value.items()
                if name in instance
                for peer in peers
                if peer not in instance
            )
            path = [*path, needing]
            message = f'"{_dotted(path)}" missing required peer "{peer}"'
        case "type":
            message = f'"{where}" must be {_article(value)}'
        case "enum":
            message = f'"{where}" must be one of [{", ".join(map(str, value))}]'
        case "format":
            kind = "GUID" if value == "uuid" else "uri"
            message = f'"{where}" must be a valid {kind}'
        case "minLength":
            message = f'"{where}" is not allowed to be empty'
        case "minItems":
            message = f'"{where}" must contain at least {value} items'
        case "minimum" | "exclusiveMinimum":
            message = f'"{where}" must be greater than {value}'
        case _:
            message = f'"{where}" is invalid'
    return {"message": message, "path": path}


def _dotted(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "value"


def _article(kind: str | list[str]) -> str:
    name = kind if isinstance(kind, str) else kind[0]
    return {"object": "of type object", "array": "an array", "integer": "an integer"}.get(
        name, f"a {name}"
    )
