"""The server's tools, built before the server: a tool's docstring, dedented, is what the model
reads, its errors are translated, and tools returning the same model share one output schema."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mcp.server.mcpserver.tools import Tool
from mcp.server.mcpserver.utilities.func_metadata import ArgModelBase, FuncMetadata
from mcp.types import ToolAnnotations
from pydantic import BaseModel

from descript_mcp.server.errors import tool_errors

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


class ToolSet:
    def __init__(self) -> None:
        self.tools: list[Tool] = []

    def tool(self, *, title: str, annotations: ToolAnnotations) -> Callable[[F], F]:
        def register(fn: F) -> F:
            returns = inspect.signature(fn).return_annotation
            if not (isinstance(returns, type) and issubclass(returns, BaseModel)):
                raise TypeError(
                    f"tool {fn.__name__} must be annotated to return a pydantic model, in a "
                    "module without `from __future__ import annotations`"
                )
            built = Tool.from_function(
                tool_errors(fn),
                title=title,
                annotations=annotations,
                description=inspect.cleandoc(fn.__doc__ or ""),
                structured_output=False,  # the output is set below, from the shared schema
            )
            built.fn_metadata.output_model = returns
            built.fn_metadata.output_schema = output_schema(returns)
            self.tools.append(built)
            return fn

        return register


@functools.cache
def output_schema(model: type[BaseModel]) -> dict[str, Any] | None:
    """The output schema the SDK derives for `model`, derived once per model: five tools return a
    JobSummary, and deriving its schema is a costly part of start-up."""
    return FuncMetadata(arg_model=ArgModelBase, output_model=model).output_schema
