"""Who watches the requests sent to Descript: the server's metrics and traces, when they are
on. Nothing watches by default, and then a request costs one check more.

Watchers see a request's route, never its path: ids are replaced by what they name
(`jobs/{job_id}`), so a metric's labels stay few and no id leaves in a label."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from descript_mcp.errors import APIError, RateLimitError

# Called with the answer's status, or None when none came (the connection failed, a timeout,
# the call was cancelled).
Ended = Callable[[int | None], None]

# Routes without ids, as the client sends them; and the first segment of those with one.
ROUTES = frozenset(
    {
        "jobs",
        "jobs/import/project_media",
        "jobs/import/drive_media",
        "jobs/agent",
        "jobs/publish",
        "jobs/export/timeline",
        "projects",
        "status",
        "agent/models",
        "search",
        "export/transcript",
    }
)
WITH_ID = {
    "jobs": "jobs/{job_id}",
    "projects": "projects/{project_id}",
    "published_projects": "published_projects/{slug}",
}


class RequestWatcher(Protocol):
    def started(self, method: str, route: str) -> Ended:
        """A request is being sent: what to call when it has its answer."""
        ...

    def waited(self, reason: str, seconds: float) -> None:
        """A pause of `seconds` before a retry, after a 429 ("rate_limit") or a failure."""
        ...


WATCHERS: list[RequestWatcher] = []


def watch_requests(watcher: RequestWatcher) -> Callable[[], None]:
    """Tell `watcher` of every request from now on; returns what stops it."""
    WATCHERS.append(watcher)
    return lambda: WATCHERS.remove(watcher) if watcher in WATCHERS else None


def route_of(path: str) -> str:
    """The route a path takes, its id named instead of shown; "other" for any other path."""
    path = path.strip("/")
    if path in ROUTES:
        return path
    first, _, rest = path.partition("/")
    if rest and "/" not in rest and first in WITH_ID:
        return WITH_ID[first]
    return "other"


def started(method: str, path: str) -> Sequence[Ended]:
    """Tell the watchers a request starts; what to tell them when it ends."""
    if not WATCHERS:
        return ()
    route = route_of(path)
    return [watcher.started(method, route) for watcher in WATCHERS]


def waited(error: APIError, seconds: float) -> None:
    for watcher in WATCHERS:
        watcher.waited("rate_limit" if isinstance(error, RateLimitError) else "failure", seconds)
