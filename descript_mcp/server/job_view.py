"""The job view: an MCP Apps page (`ui://`) that hosts supporting the extension show beside a job
tool's result, following the job through `get_job` and, for a publish, playing what it made.

Tools stay as they are for every client: the view is a resource and a `_meta.ui` on the job tools'
definitions, which hosts without Apps ignore."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from importlib.resources import files
from urllib.parse import urlsplit

from mcp.server.apps import Apps, ResourceCsp

from descript_mcp.server.tools.catalogue import CatalogueTool
from descript_mcp.settings import DEFAULT_API_URL, Settings

JOB_VIEW_URI = "ui://descript-mcp/job.html"
# Where Descript's signed download links point (its spec's examples and live answers).
DESCRIPT_MEDIA_ORIGIN = "https://storage.googleapis.com"


def media_origins(settings: Settings) -> list[str]:
    """The origins the view may load media from: Descript's download host, and the API's own
    origin when it is not Descript's (the sandbox serves its renders itself)."""
    origins = [DESCRIPT_MEDIA_ORIGIN]
    if settings.api_url != DEFAULT_API_URL:
        parts = urlsplit(settings.api_url)
        origins.append(f"{parts.scheme}://{parts.netloc}")
    return origins


def view_html(settings: Settings) -> str:
    """The view's document for these settings: the origins its media may come from and its links
    may lead to (besides https), and its own content-security policy, which narrows whatever a
    host allows to those media alone: its one script and one style by their hashes, media from
    `media_origins`, nothing else (no images, connections, frames, forms or base URL)."""
    media = media_origins(settings)
    origins = json.dumps({"media": media, "links": media[1:]}).replace("<", "\\u003c")
    template = files("descript_mcp.server").joinpath("job_view.html").read_text(encoding="utf-8")
    html = template.replace("__ORIGINS__", origins)
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_hash_of(html, 'script')}",
            f"style-src {_hash_of(html, 'style')}",
            f"media-src {' '.join(media)}",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return html.replace("__POLICY__", policy)


def _hash_of(html: str, element: str) -> str:
    """The CSP source of the document's one inline `element`, by the hash of its text."""
    (text,) = re.findall(rf"<{element}>(.*?)</{element}>", html, flags=re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def job_view(settings: Settings) -> Apps:
    """The extension, with the view's resource: one self-contained HTML document that fetches
    nothing, allowed media from `media_origins` and nothing else. The MCP Apps policy has no
    field for media alone (its resource domains also admit scripts, styles, images and fonts),
    so the document's own policy (`view_html`) narrows it."""
    apps = Apps()
    apps.add_html_resource(
        JOB_VIEW_URI,
        view_html(settings),
        name="job-view",
        title="Descript job",
        description="A job's progress and result; a publish's player and share page",
        csp=ResourceCsp(resource_domains=media_origins(settings)),
    )
    return apps


def bind_job_tools(tools: list[CatalogueTool]) -> None:
    """Point the job tools (declared `job=True`) at the view."""
    for tool in tools:
        if tool.spec.job:
            tool.meta = {**(tool.meta or {}), "ui": {"resourceUri": JOB_VIEW_URI}}
