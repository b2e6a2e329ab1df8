"""What the model sees of the tools, kept in a reviewed snapshot.

Regenerate after an intended change with `UPDATE_SNAPSHOTS=1 pytest tests/server`, and review
the diff of snapshots/tools.json like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations

from descript_mcp.server.tools import build_tools, registry

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"
# claude.ai drops a tool whose input schema is larger than this.
MAX_INPUT_SCHEMA_BYTES = 16_384


async def _surface(mcp: Client) -> list[dict[str, Any]]:
    tools = (await mcp.list_tools()).tools
    return [
        {
            "name": tool.name,
            "title": tool.title,
            "description": tool.description,
            "annotations": tool.annotations.model_dump(mode="json", exclude_none=True)
            if tool.annotations
            else None,
            "input_schema": tool.input_schema,
            "output_schema": tool.output_schema,
        }
        for tool in sorted(tools, key=lambda t: t.name)
    ]


async def test_tools_list_matches_the_reviewed_snapshot(mcp: Client) -> None:
    surface = await _surface(mcp)
    text = json.dumps(surface, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(text)
    assert text == SNAPSHOT.read_text(), "tools changed: review, then UPDATE_SNAPSHOTS=1"


async def test_every_tool_declares_its_output_and_annotations(mcp: Client) -> None:
    for tool in (await mcp.list_tools()).tools:
        assert tool.output_schema, tool.name
        assert tool.annotations is not None, tool.name
        assert tool.annotations.open_world_hint is True, tool.name
        assert tool.description, tool.name
        size = len(json.dumps(tool.input_schema))
        assert size < MAX_INPUT_SCHEMA_BYTES, (tool.name, size)


async def test_read_only_tools_are_exactly_those_that_change_nothing(mcp: Client) -> None:
    """get_job and export_transcript can save a file (and replace one if asked): not read-only."""
    tools = (await mcp.list_tools()).tools
    read_only = {t.name for t in tools if t.annotations and t.annotations.read_only_hint}
    assert read_only == {
        "list_jobs",
        "list_projects",
        "get_project",
        "get_drive_status",
        "list_agent_models",
        "search_drive",
    }
    destructive = {t.name for t in tools if t.annotations and t.annotations.destructive_hint}
    assert destructive == {"agent_edit", "publish", "cancel_job", "get_job", "export_transcript"}


def test_shared_output_schemas_are_those_the_sdk_derives_for_each_tool() -> None:
    """Tools returning the same model share one derived output schema; each tool still
    publishes and validates exactly what the SDK's own registration would give it."""
    for built in build_tools():
        alone = Tool.from_function(built.fn, name=built.name)
        assert built.output_schema == alone.output_schema, built.name
        assert built.parameters == alone.parameters | {"additionalProperties": False}, built.name
        assert built.fn_metadata.output_model is alone.fn_metadata.output_model, built.name
        assert built.fn_metadata.wrap_output is alone.fn_metadata.wrap_output is False


def test_a_tool_must_return_a_model() -> None:
    @registry.tool(title="Untyped", annotations=ToolAnnotations(), cost=registry.FREE)
    async def untyped() -> dict[str, str]:
        return {}

    with pytest.raises(TypeError, match="return a pydantic model"):
        registry.build(untyped)
