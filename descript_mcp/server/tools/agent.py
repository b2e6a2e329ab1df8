"""The agent (Underlord): agent_edit and list_agent_models."""

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from descript_mcp.client.models import AgentEditRequest, TeamAccess
from descript_mcp.errors import BadRequestError, NotFoundError
from descript_mcp.server.state import caller_of
from descript_mcp.server.summaries import FROM_DESCRIPT, Compact, JobSummary
from descript_mcp.server.tools.arguments import AgentCompositionId, Force, WaitSeconds
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


@tool(
    title="Edit with Descript's agent (Underlord)", annotations=CHANGES, cost=AI_CREDITS, job=True
)
async def agent_edit(
    prompt: Annotated[
        str,
        Field(min_length=1, description="e.g. 'Apply Studio Sound and remove filler words'"),
    ],
    ctx: Context[Any],
    project_id: Annotated[str | None, Field(description="The project to edit")] = None,
    project_name: Annotated[str | None, Field(description="Or: a new project's name")] = None,
    composition_id: AgentCompositionId = None,
    conversation_id: Annotated[
        str | None,
        Field(description="An earlier edit's, same project: the agent sees those turns"),
    ] = None,
    model: Annotated[str | None, Field(description="From list_agent_models; default auto")] = None,
    team_access: TeamAccess | None = None,
    wait_seconds: WaitSeconds = None,
    force: Force = False,
) -> JobSummary:
    """Ask Descript's agent to edit a project (Studio Sound, filler words, captions, cuts,
    layouts) or make a new one from the prompt. Costs AI credits (and may spend media
    minutes); one edit per project at a time. Returns its answer, or the job id: get_job."""
    state, caller = await caller_of(ctx)
    request = AgentEditRequest(
        prompt=prompt,
        project_id=project_id,
        project_name=project_name,
        composition_id=composition_id,
        conversation_id=conversation_id,
        model=model,
        team_access=team_access,
    )
    try:
        return await submit_and_wait(
            ctx,
            state,
            caller,
            caller.client.agent_edit,
            request,
            force=force,
            wait_seconds=wait_seconds,
        )
    except (BadRequestError, NotFoundError) as refused:
        if conversation_id is None or "onversation" not in refused.message:
            raise
        raise ToolError(_conversation_refused(refused, conversation_id)) from refused


def _conversation_refused(refused: BadRequestError | NotFoundError, conversation_id: str) -> str:
    """Why Descript refused to continue the conversation, and what to do: nothing started."""
    said = f"({refused.status_code}: “{refused.message.rstrip('.')}”)"
    if isinstance(refused, NotFoundError):
        why = (
            f"Descript has no conversation {conversation_id} on this drive {said}. Check the "
            "id: the conversation_id an earlier agent_edit on this project answered with."
        )
    elif "different project" in refused.message:
        why = (
            f"Conversation {conversation_id} belongs to another project {said}: continue it "
            "with that project's project_id."
        )
    else:
        why = (
            f"Descript refused conversation_id {said}: it is the conversation_id an earlier "
            "agent_edit answered with (a UUID), not a job id."
        )
    return (
        f"{why} Nothing was started. Or leave conversation_id out to start a new conversation, "
        "which does not see the earlier turns: say in the prompt what it needs to know."
    )


@tool(title="List the agent's models", annotations=READS, cost=FREE)
async def list_agent_models(ctx: Context[Any]) -> AgentModelList:
    """agent_edit's models with their cost tiers, and aliases for a family's newest. Free."""
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
