"""Registering a tool: its docstring, dedented, is what the model reads; errors are translated."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server import MCPServer
from mcp.types import ToolAnnotations

from descript_mcp.server.errors import tool_errors

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def tool(server: MCPServer[Any], *, title: str, annotations: ToolAnnotations) -> Callable[[F], F]:
    def register(fn: F) -> F:
        server.add_tool(
            tool_errors(fn),
            title=title,
            annotations=annotations,
            description=inspect.cleandoc(fn.__doc__ or ""),
        )
        return fn

    return register
