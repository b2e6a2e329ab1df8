"""Workflow prompts that chain the tools for common jobs."""

from __future__ import annotations

from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage


def register(server: MCPServer[Any]) -> None:
    @server.prompt(title="Clean up a podcast episode")
    def clean_up_podcast(project_id: str, publish: str = "yes") -> list[UserMessage]:
        """Studio Sound, filler words removed, captions, then (optionally) publish."""
        steps = [
            f"Clean up the podcast episode in Descript project {project_id}.",
            "1. Call get_project to see its compositions; pick the main one.",
            "2. Call agent_edit on that project and composition with the prompt: 'Apply Studio "
            "Sound to every clip, remove filler words and long pauses, and add captions.'",
            "3. If the edit is still running when the tool returns, call get_job with its job_id "
            "until it has finished. Never start the edit twice.",
            "4. Tell me what the agent changed and how many AI credits it used.",
        ]
        if publish.strip().lower() in ("yes", "true", "1"):
            steps.append(
                "5. Publish the composition as audio with access level unlisted, wait for it with "
                "get_job, and give me the share URL and the download link with its expiry."
            )
        return [UserMessage("\n".join(steps))]

    @server.prompt(title="Import and transcribe media")
    def import_and_transcribe(media_url: str, project_name: str) -> list[UserMessage]:
        """Import one file by URL into a new project and return its transcript."""
        return [
            UserMessage(
                f"Import {media_url} into a new Descript project named '{project_name}' with "
                "import_media, naming the media after the file in the URL (keep its extension) "
                "and creating one composition from it. Wait for the import with get_job if "
                "needed; if the media failed, tell me why. Then call export_transcript in "
                "markdown with speaker labels and show me the transcript."
            )
        ]

    @server.prompt(title="Draft a video from an idea")
    def draft_from_idea(idea: str, project_name: str) -> list[UserMessage]:
        """Have the agent create a new project from an idea, then review it."""
        return [
            UserMessage(
                f"Call agent_edit with project_name '{project_name}' and this prompt: {idea}\n"
                "Wait for it with get_job if it is still running. Then call get_project and "
                "summarise what the agent built, with the project URL."
            )
        ]
