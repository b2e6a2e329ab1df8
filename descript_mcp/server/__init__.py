"""The MCP server: tools, resources and prompts over the Descript client."""

from descript_mcp.server.app import build_server

__all__ = ["build_server"]
