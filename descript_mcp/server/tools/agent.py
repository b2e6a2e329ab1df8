"""The agent (Underlord): agent_edit and list_agent_models."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from descript_mcp.client.models import AgentEditRequest, TeamAccess
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import FROM_DESCRIPT, Compact, JobSummary
from descript_mcp.server.tools.arguments import CompositionId, Force, WaitSeconds
from descript_mcp.server.tools.flow import submit_and_wait
from descript_mcp.server.tools.registry import AI_CREDITS, CHANGES, FREE, READS, tool


class AgentModelInfo(Compact):
    id: str
    cost: str = Field(description="low, medium or high: the AI credits an edit costs")
    resolves_to: str | None = Field(default=None, description="For an alias: the model it means")
    description: str | None = Field(default=None, description=FROM_DESCRIPT)


class AgentModelList(BaseModel):
    models: list[AgentModelInfo]
    aliases: list[AgentModelInfo]


@tool(title="Edit with Descript's agent (Underlord)", annotations=CHANGES, cost=AI_CREDITS)
async def agent_edit(
    prompt: Annotated[
        str,
        Field(
            min_length=1,
            description="What to do, in plain words: 'Apply Studio Sound, remove filler "
            "words and add captions'",
        ),
    ],
    ctx: Context[Any],
    project_id: Annotated[str | None, Field(description="The project to edit")] = None,
    project_name: Annotated[
        str | None, Field(description="Instead of project_id: create a new project so named")
    ] = None,
    composition_id: CompositionId = None,
    model: Annotated[
        str | None,
        Field(description="A model id or alias from list_agent_models; default auto"),
    ] = None,
    team_access: Annotated[
        TeamAccess | None, Field(description="Drive members' access to a new project")
    ] = None,
    wait_seconds: WaitSeconds = None,
    force: Force = False,
) -> JobSummary:
    """Ask Descript's AI agent, Underlord, to edit a project (Studio Sound, removing filler
    words, captions, cuts, layouts...) or, with project_name, to create a new project from
    the prompt. Give exactly one of project_id and project_name.

    Costs AI credits (more for high-cost models) and may spend media minutes. The edit
    changes the project. Do not start a second edit of the same project while one runs.
    Returns the agent's answer when done, or the job id after wait_seconds: then call get_job.
    """
    state, caller = await caller_of(ctx)
    request = AgentEditRequest(
        callback_url=state.callbacks.url_for(caller),
        prompt=prompt,
        project_id=project_id,
        project_name=project_name,
        composition_id=composition_id,
        model=model,
        team_access=team_access,
    )
    return await submit_and_wait(
        ctx,
        state,
        caller,
        caller.client.agent_edit,
        request,
        job_type="agent",
        tool="agent_edit",
        force=force,
        wait_seconds=wait_seconds,
    )


@tool(title="List the agent's models", annotations=READS, cost=FREE)
async def list_agent_models(ctx: Context[Any]) -> AgentModelList:
    """The models agent_edit can use, with their cost tier, and aliases that follow the
    newest model of a family. Free."""
    _, caller = await caller_of(ctx)
    catalog = await caller.client.list_agent_models()
    return AgentModelList(
        models=[AgentModelInfo(id=m.id, cost=m.cost) for m in catalog.available_models],
        aliases=[
            AgentModelInfo(
                id=a.id, cost=a.cost, resolves_to=a.resolves_to, description=a.description
            )
            for a in catalog.aliases
        ],
    )
