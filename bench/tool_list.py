"""What the model reads of tools/list (each tool's name, title, description and input schema as
JSON), in tokens counted as characters / 4, for the default tools, --read-only and every
toolset; against the budget, and with the output schemas the client also receives."""

from __future__ import annotations

import anyio
from mcp import Client

from descript_mcp.server import build_server
from descript_mcp.server.tools.surface import TOKEN_BUDGET, for_model, tokens
from descript_mcp.settings import Settings

CHOICES = {
    "default tools": Settings(),
    "--read-only": Settings(read_only=True),
    "--toolsets all": Settings(toolsets=("all",)),
}


async def _rows() -> list[tuple[str, str]]:
    rows = []
    for name, settings in CHOICES.items():
        async with Client(build_server(settings)) as mcp:
            tools = for_model((await mcp.list_tools()).tools)  # as a host shows the model
        read = tokens(tools)
        whole = sum(len(t.model_dump_json(by_alias=True, exclude_none=True)) for t in tools) // 4
        rows.append(
            (
                f"tools/list, model-facing, {name}",
                f"{len(tools)} tools, {read} tokens ({read / TOKEN_BUDGET:.2f}x the "
                f"{TOKEN_BUDGET} budget; {whole} with output schemas)",
            )
        )
    return rows


def run() -> list[tuple[str, str]]:
    return anyio.run(_rows)


if __name__ == "__main__":
    for row in run():
        print(*row, sep="  ")
