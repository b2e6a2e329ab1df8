"""The server's tools, by toolset: each toolset is a module whose functions are marked with
`registry.tool`. `build_tools` makes those the settings offer from the catalogue (its modules are
loaded at a tool's first call), and says why the others are off."""

from __future__ import annotations

from dataclasses import dataclass

from descript_mcp.server.tools.catalogue import TOOLSETS, CatalogueTool, entries
from descript_mcp.settings import Settings

# Offered only when asked for by name (or "all"): experimental rests on Descript's undocumented
# routes; uploads adds a model-visible tool the default list has no room for, where a caller
# can name a file on this computer.
OPT_IN = frozenset({"experimental", "uploads"})
# Where callers are not on this computer (over HTTP without local files), the default puts the
# upload view in the place of save_file, which is off there: their way to bring a file.
REMOTE_DEFAULT = frozenset({"uploads"})
# Over HTTP the server's disk is not the caller's: off unless the operator turns it on.
HTTP_OFF = (
    "Local files are off over HTTP: this server's disk is not your computer. Import from a URL "
    "instead; or ask whoever runs the server to start it with --http-local-files, which gives "
    "each user a folder of their own on it."
)
# Every job tool hands back a job id to follow: the job tools come with any toolset.
ALWAYS = frozenset({"jobs"})


@dataclass(frozen=True)
class ToolChoice:
    """The tools a server offers, and for each tool it does not, why (for a call by name)."""

    offered: list[CatalogueTool]
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
    """The tools `settings` offer (the default toolsets when None), from the catalogue; those
    it does not are only named, with why."""
    settings = settings or Settings()
    remote = remote_callers(settings)
    toolsets = chosen_toolsets(settings.toolsets, remote=remote)
    offered: list[CatalogueTool] = []
    withheld: dict[str, str] = {}
    for entry in entries():
        name, toolset = entry.name, entry.toolset
        if toolset not in toolsets:
            withheld[name] = (
                f"{name} is in the {toolset} toolset, which this server does not offer "
                f"(it offers {', '.join(toolsets)}). To use it, whoever runs the server adds "
                f"{toolset} to --toolsets (DESCRIPT_MCP_TOOLSETS)."
            )
        elif toolset == "files" and remote:
            withheld[name] = f"{name} is off. {HTTP_OFF}"
        elif settings.read_only and not entry.spec.annotations.read_only_hint:
            withheld[name] = (
                f"{name} is off: this server runs read-only (--read-only, "
                "DESCRIPT_MCP_READ_ONLY), so nothing can be started, changed, cancelled or "
                "saved through it. The read tools still work."
            )
        else:
            offered.append(CatalogueTool.of(entry, wait_default=settings.wait_seconds))
    return ToolChoice(offered, withheld)
