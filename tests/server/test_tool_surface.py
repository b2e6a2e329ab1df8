"""What the model sees of the tools, kept in the reviewed catalogue: one file a tool in
descript_mcp/server/tools/schemas/, which the server lists from, so a change shows as that
tool's diff.

Write it again after an intended change with `UPDATE_TOOL_CATALOGUE=1 pytest
tests/server/test_tool_surface.py`, and review the diff like code.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest
from mcp import Client
from mcp.server.mcpserver.tools import Tool
from mcp.types import ToolAnnotations

from descript_mcp.server import tools as server_tools
from descript_mcp.server.tools import registry, surface
from descript_mcp.server.tools.catalogue import SCHEMAS, entries
from descript_mcp.server.tools.input_schema import lean
from tests.server.conftest import ERAS
from tests.server.declared import declarations, declared_functions

pytestmark = pytest.mark.anyio

CATALOGUE = Path(server_tools.__file__).with_name(SCHEMAS)
# claude.ai drops a tool whose input schema is larger than this.
MAX_INPUT_SCHEMA_BYTES = 16_384


def test_the_catalogue_is_what_the_tools_declare() -> None:
    """Every tool of every toolset, built from its function, is its file in the catalogue; no
    file is left of a tool gone."""
    made = declarations()
    if os.environ.get("UPDATE_TOOL_CATALOGUE"):
        for stale in CATALOGUE.glob("*.json"):
            stale.unlink()
        for name, text in made.items():
            (CATALOGUE / f"{name}.json").write_text(text, encoding="utf-8")
    kept = {path.stem: path.read_text(encoding="utf-8") for path in CATALOGUE.glob("*.json")}
    changes = [
        "".join(
            difflib.unified_diff(
                kept.get(name, "").splitlines(keepends=True),
                made.get(name, "").splitlines(keepends=True),
                f"catalogue's {name}" if name in kept else "(not in the catalogue)",
                f"{name} as declared" if name in made else "(not declared)",
            )
        )
        for name in sorted(kept.keys() | made.keys())
        if kept.get(name) != made.get(name)
    ]
    assert not changes, "tools changed: review, then UPDATE_TOOL_CATALOGUE=1\n" + "\n".join(changes)


@pytest.mark.parametrize("mode", ERAS)
async def test_tools_list_is_the_catalogue(make_server, mode: str) -> None:
    """Every tool of every toolset, listed as its catalogue entry has it, in its order; where a
    tool leaves its wait to the server, the server's shows as the default."""
    async with Client(make_server(toolsets=("all",), wait_seconds=30), mode=mode) as mcp:
        listed = [
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
            for tool in (await mcp.list_tools()).tools
        ]
    expected = []
    for entry in entries():
        kept = json.loads((CATALOGUE / f"{entry.name}.json").read_text(encoding="utf-8"))
        del kept["declared"]
        wait = kept["input_schema"]["properties"].get("wait_seconds")
        if wait is not None:
            wait.setdefault("default", 30)
        expected.append(kept)
    assert listed == expected


async def test_every_tool_has_a_title_and_states_its_hints(make_server) -> None:
    """Hosts decide from the hints what runs without asking: each is stated, none left to a
    default, and every tool reaches Descript (open world)."""
    async with Client(make_server(toolsets=("all",))) as mcp:
        tools = (await mcp.list_tools()).tools
    for tool in tools:
        hints = tool.annotations
        assert tool.title, tool.name
        assert tool.description, tool.name
        assert tool.output_schema, tool.name
        assert hints is not None, tool.name
        stated = (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint)
        assert None not in stated, tool.name
        assert hints.open_world_hint is True, tool.name
        if hints.read_only_hint:  # a read changes nothing, so repeating it is harmless
            assert hints.destructive_hint is False, tool.name
            assert hints.idempotent_hint is True, tool.name
        size = len(json.dumps(tool.input_schema))
        assert size < MAX_INPUT_SCHEMA_BYTES, (tool.name, size)


async def test_reads_and_writes_are_separate_tools(mcp: Client) -> None:
    """No default tool both reads and writes: the reads take nothing that names a place to
    write, and the one tool that saves files is marked as a write."""
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    read_only = {
        name for name, t in tools.items() if t.annotations and t.annotations.read_only_hint
    }
    assert read_only == {
        "get_job",
        "list_jobs",
        "export_transcript",
        "get_published_page",
        "list_projects",
        "get_project",
        "get_drive_status",
        "list_agent_models",
        "search_drive",
    }
    for name in read_only:
        arguments = set(tools[name].input_schema["properties"])
        assert not arguments & {"path", "download_to", "save_to", "overwrite"}, name
    writers = {name for name, t in tools.items() if "path" in t.input_schema["properties"]}
    assert writers == {"save_file"}
    destructive = {name for name, t in tools.items() if t.annotations.destructive_hint}
    assert destructive == {"agent_edit", "publish", "cancel_job", "save_file"}


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_what_the_model_reads_of_the_default_tools_fits_the_budget(
    make_server, transport: str
) -> None:
    """On this computer and over HTTP, where the upload view takes save_file's place."""
    async with Client(make_server(transport=transport)) as mcp:
        tools = surface.for_model((await mcp.list_tools()).tools)
    names = {tool.name for tool in tools}
    assert ("save_file" in names, "upload_media" in names) == (
        (True, False) if transport == "stdio" else (False, True)
    )
    assert len(tools) <= surface.MAX_DEFAULT_TOOLS
    counted = surface.tokens(tools)
    print(f"tools/list, model-facing, {transport}: {len(tools)} tools, {counted} tokens")
    assert counted <= surface.TOKEN_BUDGET, counted
    for tool in tools:  # the noise the schemas lost stays lost
        text = surface.model_facing(tool)
        assert '"title":' not in text.split('"inputSchema"')[1], tool.name
        assert '{"type":"null"}' not in text, tool.name


async def test_tools_only_a_view_calls_are_kept_from_the_model_and_not_counted(
    make_server,
) -> None:
    async with Client(make_server(toolsets=("default", "uploads"))) as mcp:
        listed = (await mcp.list_tools()).tools
    for_model = {tool.name for tool in surface.for_model(listed)}
    assert {tool.name for tool in listed} - for_model == {"start_upload"}
    (view_only,) = [tool for tool in listed if tool.name == "start_upload"]
    assert view_only.meta == {"ui": {"visibility": ["app"]}}
    assert "upload_media" in for_model
    assert surface.tokens(surface.for_model(listed)) < surface.tokens(listed)


async def test_the_server_wait_is_the_default_the_schema_shows(make_server) -> None:
    async with Client(make_server(wait_seconds=30)) as mcp:
        tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    for name in ("import_media", "agent_edit", "publish", "save_file"):
        assert tools[name].input_schema["properties"]["wait_seconds"]["default"] == 30, name
    assert tools["get_job"].input_schema["properties"]["wait_seconds"]["default"] == 0


def test_lean_schemas_are_what_the_sdk_derives_less_the_noise() -> None:
    """Tools returning the same model share one derived output schema; each tool publishes
    exactly what the SDK's own registration would give it, its input schema made lean."""
    for _toolset, fn in declared_functions():
        built = registry.build(fn)
        alone = Tool.from_function(built.fn, name=built.name)
        expected = lean(alone.parameters) | {"additionalProperties": False}
        assert built.parameters == expected, built.name
        assert built.output_schema == alone.output_schema, built.name
        assert built.fn_metadata.output_model is alone.fn_metadata.output_model, built.name
        assert built.fn_metadata.wrap_output is alone.fn_metadata.wrap_output is False


def test_lean_keeps_what_validates_and_drops_the_rest() -> None:
    derived = {
        "title": "fArguments",
        "$defs": {"Item": {"title": "Item", "description": "An item.", "type": "object"}},
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "maybe": {
                "anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}],
                "default": None,
            },
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            "items": {
                "anyOf": [{"items": {"$ref": "#/$defs/Item"}, "type": "array"}, {"type": "null"}],
                "default": None,
                "description": "Some",
            },
            "flag": {"default": False, "title": "Flag", "type": "boolean"},
        },
        "type": "object",
    }
    assert lean(derived) == {
        "$defs": {"Item": {"type": "object"}},
        "properties": {
            "title": {"type": "string"},
            "maybe": {"type": "integer", "minimum": 1},
            "either": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            "items": {"items": {"$ref": "#/$defs/Item"}, "type": "array", "description": "Some"},
            "flag": {"default": False, "type": "boolean"},
        },
        "type": "object",
    }


def test_a_tool_must_return_a_model() -> None:
    @registry.tool(title="Untyped", annotations=ToolAnnotations(), cost=registry.FREE)
    async def untyped() -> dict[str, str]:
        return {}

    with pytest.raises(TypeError, match="return a pydantic model"):
        registry.build(untyped)
