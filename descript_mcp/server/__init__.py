"""The MCP server: tools, resources and prompts over the Descript client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from descript_mcp.server.app import build_server

__all__ = ["build_server"]


def __getattr__(name: str) -> Any:
    # Loaded when asked for: the command line's job commands use the server's summaries, and
    # importing a module of this package would otherwise load the MCP SDK with it.
    if name == "build_server":
        from descript_mcp.server.app import build_server

        return build_server
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
