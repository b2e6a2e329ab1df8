"""Which composition an export takes when none is named: the first with content. Descript's
own default for a transcript is the project's first composition, which in a project made by an
import or the agent is an empty placeholder; publish alone skips it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from descript_mcp.client.api import DescriptClient


async def named_or_first_with_content(
    client: DescriptClient, project_id: str, composition_id: str | None
) -> str | None:
    """`composition_id`, else the project's first composition with content; None if it has
    none (Descript then takes its first)."""
    if composition_id is not None:
        return composition_id
    project = await client.get_project(project_id)
    return next((c.id for c in project.compositions if c.duration), None)
