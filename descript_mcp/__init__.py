"""descript-mcp: drive Descript from AI assistants over MCP, with a built-in sandbox."""

__version__ = "0.1.0"
