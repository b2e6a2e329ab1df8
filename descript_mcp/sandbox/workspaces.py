"""Workspaces: where a new project goes, and whom it is shared with there."""

from __future__ import annotations

from descript_mcp.sandbox.errors import ApiError, invalid, not_found
from descript_mcp.sandbox.state import Drive


def team_access_in(drive: Drive, workspace: str | None, team_access: str | None) -> str | None:
    """A new project's team access in its workspace, as the spec words the rules: names match
    whatever their case; Personal takes `none` only; General and a team's own workspace take
    edit, comment or view (default view), never `none`; a team's needs the user a member."""
    if workspace is None:
        return team_access
    name = workspace.casefold()
    if name == "personal":
        if team_access not in (None, "none"):
            raise invalid('"team_access" must be [none] when "workspace_name" is Personal')
        return team_access
    custom = {known.casefold(): member for known, member in drive.config.workspaces.items()}
    if name != "general" and name not in custom:
        raise not_found(f"Workspace '{workspace}' not found")
    if name in custom and not custom[name]:
        raise ApiError(403, f"You are not a member of the workspace '{workspace}'")
    if team_access == "none":
        raise invalid(
            f'"team_access" must be one of [edit, comment, view] when "workspace_name" is '
            f"{workspace}"
        )
    return team_access or "view"
