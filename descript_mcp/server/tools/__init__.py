"""The server's tools, by toolset: each toolset is a module whose functions are marked with
`registry.tool`. `build_tools` builds those the settings offer, and says why the others are off."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from mcp.server.mcpserver.tools import Tool

from descript_mcp.server.tools import (
    agent,
    experimental,
    files,
    jobs,
    media,
    projects,
    publish,
    uploads,
)
from descript_mcp.server.tools.local_files import HTTP_OFF
from descript_mcp.server.tools.registry import SPEC, ToolSpec, build, marked
from descript_mcp.settings import Settings

TOOLSETS: dict[str, ModuleType] = {
    "media": media,
    "agent": agent,
    "publish": publish,
    "jobs": jobs,
    "projects": projects,
    "files": files,
    "experimental": experimental,
    "uploads": uploads,
}
# Offered only when asked for by name (or "all"): experimental rests on Descript's undocumented
# routes; uploads adds a model-visible tool the default list has no room for, where a caller
# can name a file on this computer.
OPT_IN = frozenset({"experimental", "uploads"})
# Where callers are not on this computer (over HTTP without local files), the default puts the
# upload view in the place of save_file, which is off there: their way to bring a file.
REMOTE_DEFAULT = frozenset({"uploads"})
# Every job tool hands back a job id to follow: the job tools come with any toolset.
ALWAYS = frozenset({"jobs"})


@dataclass(frozen=True)
class ToolChoice:
    """The tools a server offers, and for each tool it does not, why (for a call by name)."""

    offered: list[Tool]
    withheld: dict[str, str]


def chosen_toolsets(names: tuple[str, ...], *, remote: bool = False) -> list[str]:
    """The toolsets `names` means, in the order of TOOLSETS; `remote`: for callers who are not
    on this computer."""
    wanted = set(names) | ALWAYS
    if "all" in wanted:
        wanted |= set(TOOLSETS)
    if "default" in wanted:
        wanted |= set(TOOLSETS) - OPT_IN | (REMOTE_DEFAULT if remote else set())
    return [name for name in TOOLSETS if name in wanted]


def remote_callers(settings: Settings) -> bool:
    """Whether callers are elsewhere than this computer: over HTTP without local files."""
    return settings.transport != "stdio" and not settings.http_local_files


def build_tools(settings: Settings | None = None) -> ToolChoice:
    """The tools `settings` offer (the default toolsets when None), built; those it does not
    are not built at all (building is most of a start's cost), only named with why."""
    settings = settings or Settings()
    remote = remote_callers(settings)
    toolsets = chosen_toolsets(settings.toolsets, remote=remote)
    offered: list[Tool] = []
    withheld: dict[str, str] = {}
    for toolset, module in TOOLSETS.items():
        for fn in marked(module):
            name = fn.__name__
            spec: ToolSpec = getattr(fn, SPEC)
            if toolset not in toolsets:
                withheld[name] = (
                    f"{name} is in the {toolset} toolset, which this server does not offer "
                    f"(it offers {', '.join(toolsets)}). To use it, whoever runs the server adds "
                    f"{toolset} to --toolsets (DESCRIPT_MCP_TOOLSETS)."
                )
            elif toolset == "files" and remote:
                withheld[name] = f"{name} is off. {HTTP_OFF}"
            elif settings.read_only and not spec.annotations.read_only_hint:
                withheld[name] = (
                    f"{name} is off: this server runs read-only (--read-only, "
                    "DESCRIPT_MCP_READ_ONLY), so nothing can be started, changed, cancelled or "
                    "saved through it. The read tools still work."
                )
            else:
                offered.append(build(fn, wait_default=settings.wait_seconds))
    return ToolChoice(offered, withheld)
