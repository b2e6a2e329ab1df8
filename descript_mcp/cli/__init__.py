"""The command line: `descript-mcp` and its commands (serve, sandbox, demo, import, ...)."""

from descript_mcp.cli.main import main

__all__ = ["main"]
