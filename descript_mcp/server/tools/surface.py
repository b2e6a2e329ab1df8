"""What the model reads of tools/list, and how much of it: each tool's name, title, description
and input schema as JSON, counted in tokens as characters / 4 (tokenizers' vocabularies are not
to be had everywhere; the ratio is the usual rule for English and JSON). Tools only a view calls
(MCP Apps visibility ["app"]) are kept from the model by its host, and not counted."""

from __future__ import annotations

from collections.abc import Iterable

from mcp.types import Tool

# At most this many tokens, and this many tools, for the default toolsets.
TOKEN_BUDGET = 3_500
MAX_DEFAULT_TOOLS = 14
CHARACTERS_PER_TOKEN = 4


def for_model(tools: Iterable[Tool]) -> list[Tool]:
    """The tools a host shows the model: all but those only a view may call."""
    return [
        tool
        for tool in tools
        if "model" in ((tool.meta or {}).get("ui") or {}).get("visibility", ["model"])
    ]


def model_facing(tool: Tool) -> str:
    """The JSON of what a model is shown of `tool`, as the server sends it."""
    return tool.model_dump_json(
        by_alias=True, exclude_none=True, include={"name", "title", "description", "input_schema"}
    )


def tokens(tools: Iterable[Tool]) -> int:
    return sum(len(model_facing(tool)) for tool in tools) // CHARACTERS_PER_TOKEN
