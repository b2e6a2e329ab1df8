"""The upload view: an MCP Apps page (`ui://`) where a person drops or picks files on their own
computer. It starts their import through start_upload, sends each file from the browser straight
to the signed upload URL the import's answer gives, then follows the import through get_job.

In a module of its own, read only when the uploads toolset is offered: a server without it
never loads the page."""

from __future__ import annotations

from importlib.resources import files

from mcp.server.apps import Apps, ResourceCsp
from mcp.server.mcpserver.tools import Tool

from descript_mcp.server.job_view import media_origins
from descript_mcp.settings import Settings

UPLOAD_VIEW_URI = "ui://descript-mcp/upload.html"
# The tool a model calls to show the view.
OPENS_IT = "upload_media"


def add_upload_view(apps: Apps, tools: list[Tool], settings: Settings) -> None:
    """The view's resource on `apps`, and `OPENS_IT` among `tools` pointed at it. The page may
    connect to the hosts of the signed upload URLs only (Descript's storage, which also serves
    its downloads; the sandbox's own origin when the API is not Descript's), and load nothing."""
    apps.add_html_resource(
        UPLOAD_VIEW_URI,
        files("descript_mcp.server").joinpath("upload_view.html").read_text(encoding="utf-8"),
        name="upload-view",
        title="Upload to Descript",
        description="Pick files on your computer; your browser sends them to Descript",
        csp=ResourceCsp(connect_domains=media_origins(settings)),
    )
    for tool in tools:
        if tool.name == OPENS_IT:
            tool.meta = {**(tool.meta or {}), "ui": {"resourceUri": UPLOAD_VIEW_URI}}
