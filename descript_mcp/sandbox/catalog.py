"""The agent model catalog the sandbox offers (GET /agent/models), in Descript's shape."""

from __future__ import annotations

from descript_mcp.sandbox.errors import invalid

AVAILABLE_MODELS = [
    {"id": "auto", "cost": "medium"},
    {"id": "claude-opus-5.5", "cost": "high"},
    {"id": "claude-sonnet-4.6", "cost": "medium"},
    {"id": "claude-haiku-5.5", "cost": "low"},
    {"id": "gpt-5.5", "cost": "medium"},
    {"id": "gemini-3.5-flash", "cost": "low"},
]
ALIASES = [
    {
        "id": "claude-opus",
        "resolvesTo": "claude-opus-5.5",
        "description": "Tracks stable Anthropic Claude Opus",
        "cost": "high",
    },
    {
        "id": "claude-sonnet",
        "resolvesTo": "claude-sonnet-4.6",
        "description": "Tracks stable Anthropic Claude Sonnet",
        "cost": "medium",
    },
    {
        "id": "gemini-flash",
        "resolvesTo": "gemini-3.5-flash",
        "description": "Tracks stable Google Gemini Flash",
        "cost": "low",
    },
]


def resolve_model(requested: str | None) -> tuple[str, str]:
    """(the model reported, cost tier) for a model id or alias, `auto` when none is asked for
    (reported as `auto`, as the spec has it); 400 for anything else."""
    name = requested or "auto"
    for model in AVAILABLE_MODELS:
        if model["id"] == name:
            return name, model["cost"]
    for alias in ALIASES:
        if alias["id"] == name:
            return alias["resolvesTo"], alias["cost"]
    allowed = [m["id"] for m in AVAILABLE_MODELS] + [a["id"] for a in ALIASES]
    raise invalid(f'"model" must be one of [{", ".join(allowed)}]')
