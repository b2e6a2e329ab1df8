"""The one place where client errors become tool errors: a fact and the next step, no token."""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

from mcp.server.mcpserver.exceptions import ToolError
from pydantic import ValidationError

from descript_mcp import errors
from descript_mcp.server.summaries import QUOTED_NOTE, quoted

P = ParamSpec("P")
R = TypeVar("R")


# Routes whose errors mean something of their own.
PUBLISHED_PAGE = "published_projects/"
PUBLISH = "jobs/publish"


def tool_message(error: errors.DescriptError) -> str:
    """A fact and the next step; Descript's own words in it quoted, and said to be data."""
    meant = _on_route(error) if isinstance(error, errors.APIStatusError) else None
    text = meant or _message(error)
    quotes = isinstance(error, errors.APIStatusError) and not isinstance(
        error, errors.RateLimitError
    )
    return f"{text} {QUOTED_NOTE}" if quotes else text


def _message(error: errors.DescriptError) -> str:
    match error:
        case errors.ConfigurationError() | errors.LocalFileError():
            return str(error)
        case errors.InvalidIdError():
            return f"{error} list_jobs and list_projects show the ids."
        case errors.AuthenticationError():
            return (
                f"Descript rejected the API token (401: {quoted(error.message)}). Create a new "
                "token in Descript under Settings → API Tokens and configure it as "
                "DESCRIPT_API_KEY (over HTTP: send it as Authorization: Bearer <token>)."
            )
        case errors.PaymentRequiredError():
            balance = "AI credits" if "credit" in error.message.lower() else "media minutes"
            return (
                f"Not enough {balance} in the Descript drive (402): {quoted(error.message)}. "
                "Add more in "
                "Descript's billing settings, or ask for less."
            )
        case errors.PublishInProgressError():
            return (
                "A publish is already running for this project (429). Wait for it with get_job "
                "(list_jobs shows its job id), then publish again if still needed."
            )
        case errors.RateLimitError():
            wait = error.retry_after
            when = f"after {math.ceil(wait)} s" if wait is not None else "in a minute"
            return f"Descript's rate limit was reached (429). Retry {when}."
        case errors.PermissionDeniedError():
            return (
                f"Descript refused access (403): {quoted(error.message)}. The API token is "
                "scoped to one drive: the project or job may belong to another drive "
                "(get_drive_status names the token's drive), or your role does not allow this."
            )
        case errors.NotFoundError():
            return (
                f"Not found (404): {quoted(error.message)}. Check the id: list_projects, "
                "list_jobs and search_drive list what exists."
            )
        case errors.UnprocessableEntityError() | errors.BadRequestError():
            details = "; ".join(
                quoted(str(d.get("message"))) for d in error.details[1:] if isinstance(d, dict)
            )
            more = f" Also: {details}." if details else ""
            return (
                f"Descript rejected the request ({error.status_code}), saying "
                f"{quoted(error.message)}.{more}"
            )
        case errors.ConflictError():
            return f"Not ready (409, {error.state or 'conflict'}): {quoted(error.message)}."
        case errors.UnconfirmedSubmissionError():
            return (
                f"{error.message} To check: get_job on each job named, candidates first, and "
                "list_jobs (with this project_id). Only if none of them is this request's job, "
                "submit again with force: true."
            )
        case errors.UploadURLsLostError():
            return error.message
        case errors.DuplicateSubmissionError():
            return (
                f"{error} Nothing was submitted again. To check: list_jobs and get_job. To submit "
                "it anyway, call again with force: true."
            )
        case errors.ServerError():
            return (
                f"Descript failed ({error.status_code}: {quoted(error.message)}). Reading calls "
                "can be retried; for a job that may have started, check list_jobs before "
                "retrying it."
            )
        case errors.APIConnectionError():
            return f"{error.message} Check the network and DESCRIPT_API_URL, then retry."
        case errors.APIStatusError():
            return f"Descript answered {error.status_code}: {quoted(error.message)}."
        case _:
            return str(error)


def _on_route(error: errors.APIStatusError) -> str | None:
    """What a status means on the route that answered it, where that is not what it means in
    general (a published page's 401 is not the token's fault)."""
    said = f"({error.status_code}: {quoted(error.message)})"
    if error.path.startswith(PUBLISHED_PAGE):
        match error:
            case errors.AuthenticationError():
                return (
                    f"The published page is private to its drive {said}: only a person signed "
                    "in to Descript with access to that drive can open it, not this API token. "
                    "Its owner can publish it as unlisted or public."
                )
            case errors.PermissionDeniedError():
                return (
                    f"This Descript user has no access to the published page {said}. Its owner "
                    "can share it, or publish it as unlisted or public."
                )
            case errors.RateLimitError():
                wait = error.retry_after
                when = f"after {math.ceil(wait)} s" if wait is not None else "later"
                return (
                    "Descript allows 1,000 published-page reads an hour per user, and that "
                    f"was reached (429). Retry {when}."
                )
    if error.path == PUBLISH and isinstance(error, errors.PermissionDeniedError):
        return (
            f"Descript refused the publish {said}. Usually the drive's publish settings do not "
            "permit the access_level asked for (public needs search indexing on): choose "
            "another, or leave it out for the drive's default. Else this token's user cannot "
            "publish this project."
        )
    return None


def invalid_arguments(error: ValidationError, schema: dict[str, Any] | None = None) -> str:
    """Each problem as `where: what`; an unknown field with the fields accepted there, when the
    arguments' JSON `schema` is given."""
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"])
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "extra_forbidden":
            fields = _fields_at(schema, problem["loc"][:-1]) if schema else []
            message = "unknown field" + (f"; accepted: {', '.join(fields)}" if fields else "")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems)


def _fields_at(schema: dict[str, Any], path: tuple[int | str, ...]) -> list[str]:
    """The properties of the object found at `path` in a JSON schema (pydantic's: $defs, $ref,
    anyOf with null, arrays and maps); none if the path leads elsewhere."""
    definitions = schema.get("$defs", {})

    def resolved(node: dict[str, Any]) -> dict[str, Any]:
        while True:
            if "$ref" in node:
                node = definitions.get(node["$ref"].rsplit("/", 1)[-1], {})
            elif "anyOf" in node:
                objects = [n for n in node["anyOf"] if n.get("type") != "null"]
                if len(objects) != 1:
                    return node
                node = objects[0]
            else:
                return node

    node = resolved(schema)
    for part in path:
        properties = node.get("properties", {})
        if isinstance(part, str) and part in properties:
            node = resolved(properties[part])
        elif isinstance(part, int) and isinstance(node.get("items"), dict):
            node = resolved(node["items"])
        elif isinstance(node.get("additionalProperties"), dict):
            node = resolved(node["additionalProperties"])
        else:
            return []
    return list(node.get("properties", {}))


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Raise Descript's errors as tool errors the model can act on."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except errors.DescriptError as error:
            raise ToolError(tool_message(error)) from error
        except ValidationError as error:  # the arguments do not make a valid request
            raise ToolError(f"Invalid arguments: {invalid_arguments(error)}") from error

    return wrapper
