"""The tools' catalogue: what tools/list shows of each tool, and how it was declared, one JSON
file a tool in `schemas/`, made from the marked functions. A server starts from it without
importing the tool modules or building their schemas, most of a start's cost: a tool's module is
imported, and its argument model built, at the tool's first call.

`tests/server/test_tool_surface.py` keeps the files equal to the declarations, so they are also
the reviewed record of what the model sees: after an intended change, write them again with
`UPDATE_TOOL_CATALOGUE=1 pytest tests/server/test_tool_surface.py` and review the diff like
code."""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.resources import files
from typing import Any, get_args

from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations
from pydantic import PrivateAttr

from descript_mcp.server.tools.registry import APP_ONLY, ToolSpec, build
from descript_mcp.settings import Toolset

# Each toolset the settings name (but "default" and "all", which name groups of them) and the
# module that declares its tools, in the order the server lists them.
TOOLSETS = {
    toolset: f"descript_mcp.server.tools.{toolset}"
    for toolset in get_args(Toolset)
    if toolset not in ("default", "all")
}
SCHEMAS = "schemas"


@dataclass(frozen=True)
class Entry:
    """One tool as the catalogue has it."""

    name: str
    toolset: str
    position: int  # in its toolset's module
    spec: ToolSpec
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None


class CatalogueTool(Tool):
    """A tool served from its catalogue entry; its function is imported and built at its first
    call (then once a process), and runs as built (`registry.CheckedTool`)."""

    _entry: Entry = PrivateAttr()

    @classmethod
    def of(cls, entry: Entry, *, wait_default: float | None) -> CatalogueTool:
        """The tool for one server; a `wait_seconds` left to the server shows `wait_default`."""
        parameters = entry.input_schema
        properties = parameters["properties"]
        wait = properties.get("wait_seconds")
        if wait is not None and "default" not in wait and wait_default is not None:
            properties = properties | {"wait_seconds": wait | {"default": wait_default}}
            parameters = parameters | {"properties": properties}
        # Constructed, not validated: the entry was, when it was made. It has no function or
        # argument model of its own: the declared tool's run it (`declared`).
        tool = cls.model_construct(  # type: ignore[call-arg]
            name=entry.name,
            title=entry.spec.title,
            description=entry.description,
            parameters=parameters,
            is_async=True,
            context_kwarg=None,
            resolved_params={},
            resolver_plans={},
            annotations=entry.spec.annotations,
            icons=None,
            meta=dict(APP_ONLY) if entry.spec.app_only else None,
        )
        tool._entry = entry
        return tool

    @property
    def spec(self) -> ToolSpec:
        """How the tool was declared (its function's `tool` mark)."""
        return self._entry.spec

    @cached_property
    def output_schema(self) -> dict[str, Any] | None:
        return self._entry.output_schema

    @cached_property
    def declared(self) -> Tool:
        """The tool built from its function, its module imported (once a process), kept for
        the calls after the first."""
        module = importlib.import_module(TOOLSETS[self._entry.toolset])
        return build(getattr(module, self.name))

    async def run(
        self, arguments: dict[str, Any], context: Any, convert_result: bool = False
    ) -> Any:
        return await self.declared.run(arguments, context, convert_result)


@cache
def entries() -> tuple[Entry, ...]:
    """Every tool in the catalogue, in the order the server lists them: by toolset, then as
    declared in its module."""
    found = [
        _entry(json.loads(path.read_text(encoding="utf-8")))
        for path in files("descript_mcp.server.tools").joinpath(SCHEMAS).iterdir()
        if path.name.endswith(".json")
    ]
    order = list(TOOLSETS)
    return tuple(sorted(found, key=lambda entry: (order.index(entry.toolset), entry.position)))


def _entry(kept: dict[str, Any]) -> Entry:
    declared = kept["declared"]
    spec = ToolSpec(
        title=kept["title"],
        annotations=ToolAnnotations.model_validate(kept["annotations"]),
        cost=declared["cost"],
        app_only=declared["app_only"],
        job=declared["job"],
    )
    return Entry(
        name=kept["name"],
        toolset=declared["toolset"],
        position=declared["position"],
        spec=spec,
        description=kept["description"],
        input_schema=kept["input_schema"],
        output_schema=kept["output_schema"],
    )
