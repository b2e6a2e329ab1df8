"""The server's tools, by area. Each is a module-level function marked with `registry.tool`;
`build_tools` builds them all, in this order."""

from mcp.server.mcpserver.tools import Tool

from descript_mcp.server.tools import agent, jobs, media, projects, publish
from descript_mcp.server.tools.registry import build, marked

AREAS = (media, agent, publish, jobs, projects)


def build_tools() -> list[Tool]:
    """The server's tools, built: argument models, input and output schemas."""
    return [build(fn) for area in AREAS for fn in marked(area)]
