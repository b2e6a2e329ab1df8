"""The tools as their functions declare them, their modules imported and each built: what the
catalogue (descript_mcp/server/tools/schemas/) is made from, and checked against."""

from __future__ import annotations

import importlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from descript_mcp.server.tools import TOOLSETS
from descript_mcp.server.tools.registry import SPEC, ToolSpec, build, marked

ToolFunction = Callable[..., Awaitable[Any]]


def declared_functions() -> list[tuple[str, ToolFunction]]:
    """Each toolset's marked functions, in the order the server lists them."""
    return [
        (toolset, fn)
        for toolset, module in TOOLSETS.items()
        for fn in marked(importlib.import_module(module))
    ]


def declarations() -> dict[str, str]:
    """Each tool's catalogue file as its declaration makes it, by tool name."""
    made: dict[str, str] = {}
    position: dict[str, int] = {}
    for toolset, fn in declared_functions():
        spec: ToolSpec = getattr(fn, SPEC)
        built = build(fn)
        kept = {
            "name": built.name,
            "title": built.title,
            "description": built.description,
            "annotations": spec.annotations.model_dump(mode="json", exclude_none=True),
            "input_schema": built.parameters,
            "output_schema": built.output_schema,
            "declared": {
                "toolset": toolset,
                "position": position.setdefault(toolset, 0),
                "cost": spec.cost,
                "app_only": spec.app_only,
                "job": spec.job,
            },
        }
        position[toolset] += 1
        made[built.name] = json.dumps(kept, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return made
