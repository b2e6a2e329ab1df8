"""The conformance fixture server: descript-mcp, as `descript-mcp serve --sandbox fast` builds
and serves it, plus the fixtures the official conformance suite calls by fixed test names.

Test-only: the product carries none of these. They follow the MCP Python SDK's own
everything-server. Run from the repository root:

    python -m tests.conformance.fixture_server --port 3001

then point `conformance server --url http://localhost:3001/mcp` at it.
"""

from __future__ import annotations

import argparse
import base64
import json
import tempfile
import warnings
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Final, get_args

import anyio
from mcp.server import ServerRequestContext
from mcp.server.mcpserver import Context, UserMessage
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPDeprecationWarning
from mcp.types import (
    AudioContent,
    EmbeddedResource,
    EmptyResult,
    ImageContent,
    LoggingLevel,
    SamplingMessage,
    SetLevelRequestParams,
    TextContent,
    TextResourceContents,
)
from pydantic import BaseModel, Field

from descript_mcp.server.app import DescriptServer, build_server
from descript_mcp.server.http.run import serve_http, start_sandbox
from descript_mcp.settings import Settings

IMAGE: Final = (  # a 1x1 PNG
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
AUDIO: Final = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="  # an empty WAV
LEVELS: Final = get_args(LoggingLevel)  # least severe first
# The 2020-12 keywords the suite checks survive in tools/list.
JSON_SCHEMA_2020_12: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {"name": {"type": "string"}, "address": {"$ref": "#/$defs/address"}},
    "additionalProperties": False,
}


class UserInfo(BaseModel):
    username: str = Field(description="User's response")
    email: str = Field(description="User's email address")


class Defaults(BaseModel):
    """SEP-1034: a default for each primitive type."""

    name: str = Field(default="John Doe", description="User name")
    age: int = Field(default=30, description="User age")
    score: float = Field(default=95.5, description="User score")
    status: str = Field(
        default="active",
        description="User status",
        json_schema_extra={"enum": ["active", "inactive", "pending"]},
    )
    verified: bool = Field(default=True, description="Verification status")


def _titled(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"const": value, "title": title} for value, title in pairs]


class Enums(BaseModel):
    """SEP-1330: the five enum shapes."""

    untitledSingle: str = Field(  # noqa: N815 (the suite's field names)
        json_schema_extra={"enum": ["option1", "option2", "option3"]}
    )
    titledSingle: str = Field(  # noqa: N815
        json_schema_extra={
            "oneOf": _titled(("value1", "First Option"), ("value2", "Second Option"))
        }
    )
    legacyEnum: str = Field(  # noqa: N815
        json_schema_extra={
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        }
    )
    untitledMulti: list[str] = Field(  # noqa: N815
        json_schema_extra={"items": {"type": "string", "enum": ["option1", "option2", "option3"]}}
    )
    titledMulti: list[str] = Field(  # noqa: N815
        json_schema_extra={
            "items": {"anyOf": _titled(("value1", "First Choice"), ("value2", "Second Choice"))}
        }
    )


def add_fixtures(server: DescriptServer) -> None:
    """Register the suite's fixture tools, resources, prompts and `logging/setLevel`."""
    threshold: LoggingLevel = "info"  # set by logging/setLevel, one for all sessions

    async def set_level(
        _ctx: ServerRequestContext[Any, Any], params: SetLevelRequestParams
    ) -> EmptyResult:
        nonlocal threshold
        threshold = params.level
        return EmptyResult()

    # MCPServer has no public hook for it; registering it also declares `logging`.
    server._lowlevel_server.add_request_handler(
        "logging/setLevel", SetLevelRequestParams, set_level
    )

    @server.tool()
    def test_simple_text() -> str:
        """Returns one text block."""
        return "This is a simple text response for testing."

    @server.tool()
    def test_image_content() -> list[ImageContent]:
        """Returns one image block."""
        return [ImageContent(type="image", data=IMAGE, mime_type="image/png")]

    @server.tool()
    def test_audio_content() -> list[AudioContent]:
        """Returns one audio block."""
        return [AudioContent(type="audio", data=AUDIO, mime_type="audio/wav")]

    def embedded(uri: str, text: str, mime_type: str = "text/plain") -> EmbeddedResource:
        contents = TextResourceContents(uri=uri, mime_type=mime_type, text=text)
        return EmbeddedResource(type="resource", resource=contents)

    @server.tool()
    def test_embedded_resource() -> list[EmbeddedResource]:
        """Returns one embedded resource."""
        return [embedded("test://embedded-resource", "This is an embedded resource content.")]

    @server.tool()
    def test_multiple_content_types() -> list[TextContent | ImageContent | EmbeddedResource]:
        """Returns text, an image and an embedded resource."""
        return [
            TextContent(type="text", text="Multiple content types test:"),
            ImageContent(type="image", data=IMAGE, mime_type="image/png"),
            embedded("test://mixed-content-resource", '{"test": "data"}', "application/json"),
        ]

    @server.tool()
    async def test_tool_with_logging(ctx: Context) -> str:
        """Sends three info log messages while it runs."""
        for step in ("Tool execution started", "Tool processing data", "Tool execution completed"):
            if LEVELS.index("info") >= LEVELS.index(threshold):
                await ctx.info(step)
            await anyio.sleep(0.05)
        return "Tool with logging executed successfully"

    @server.tool()
    async def test_tool_with_progress(ctx: Context) -> str:
        """Reports progress 0, 50 and 100 of 100."""
        for done in (0, 50, 100):
            await ctx.report_progress(done, 100, f"Completed step {done} of 100")
            await anyio.sleep(0.05)
        return "Progress completed"

    @server.tool()
    def test_error_handling() -> str:
        """Always fails."""
        raise ToolError("This tool intentionally returns an error for testing")

    @server.tool()
    async def test_sampling(prompt: str, ctx: Context) -> str:
        """Asks the client's model to answer `prompt`."""
        message = SamplingMessage(role="user", content=TextContent(type="text", text=prompt))
        result = await ctx.session.create_message(
            messages=[message], max_tokens=100, related_request_id=ctx.request_id
        )
        answer = result.content.text if isinstance(result.content, TextContent) else ""
        return f"LLM response: {answer}"

    @server.tool()
    async def test_elicitation(message: str, ctx: Context) -> str:
        """Asks the user for a name and an email."""
        result = await ctx.elicit(message, UserInfo)
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"User response: action={result.action}, content={content}"

    @server.tool()
    async def test_elicitation_sep1034_defaults(ctx: Context) -> str:
        """Asks the user for values that all have defaults."""
        result = await ctx.elicit("Please provide user information", Defaults)
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"Elicitation result: action={result.action}, content={content}"

    @server.tool()
    async def test_elicitation_sep1330_enums(ctx: Context) -> str:
        """Asks the user to choose from each kind of enum."""
        result = await ctx.elicit("Please choose", Enums)
        content = result.data.model_dump_json() if result.action == "accept" else "{}"
        return f"Elicitation completed: action={result.action}, content={content}"

    @server.tool(name="json_schema_2020_12_tool")
    def json_schema_2020_12_tool() -> str:
        """Tool with JSON Schema 2020-12 features."""
        return "ok"

    # MCPServer.tool() takes no input schema: set it on the registered tool, as the SDK's own does.
    server._tool_manager._tools["json_schema_2020_12_tool"].parameters = JSON_SCHEMA_2020_12

    @server.tool()
    async def test_reconnection(ctx: Context) -> str:
        """Closes its SSE stream mid-call (SEP-1699 polling)."""
        await ctx.close_sse_stream()  # a no-op without an event store
        await anyio.sleep(0.2)
        return "Reconnection test completed"

    @server.resource("test://static-text", mime_type="text/plain")
    def static_text() -> str:
        """A static text resource."""
        return "This is the content of the static text resource."

    @server.resource("test://static-binary", mime_type="image/png")
    def static_binary() -> bytes:
        """A static binary resource (a PNG image)."""
        return base64.b64decode(IMAGE)

    @server.resource("test://template/{id}/data", mime_type="application/json")
    def template(id: str) -> str:
        """A resource template: the id is substituted into the content."""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource("test://watched-resource", mime_type="text/plain")
    def watched() -> str:
        """A resource to subscribe to."""
        return "Watched resource content"

    server.notifier.allow("test://watched-resource")

    @server.prompt()
    def test_simple_prompt() -> list[UserMessage]:
        """A prompt without arguments."""
        return [UserMessage("This is a simple prompt for testing.")]

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[UserMessage]:
        """A prompt with two required arguments."""
        return [UserMessage(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[UserMessage]:  # noqa: N803
        """A prompt that embeds a resource."""
        return [
            UserMessage(embedded(resourceUri, "Embedded resource content for testing.")),
            UserMessage("Please process the embedded resource above."),
        ]

    @server.prompt()
    def test_prompt_with_image() -> list[UserMessage]:
        """A prompt that includes an image."""
        return [
            UserMessage(ImageContent(type="image", data=IMAGE, mime_type="image/png")),
            UserMessage("Please analyze the image above."),
        ]


async def serve_fixtures(port: int) -> None:
    """The product's run path (built-in fast sandbox, HTTP app, token fallback) plus fixtures."""
    # Logging and sampling are deprecated at 2026-07-28; the suite tests them at 2025-11-25.
    warnings.filterwarnings("ignore", category=MCPDeprecationWarning)
    async with AsyncExitStack() as stack:
        history = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "history.sqlite3"
        settings = Settings(
            transport="http", port=port, http_token_fallback=True, history_path=history
        )
        settings, notes = await start_sandbox(stack, settings, "fast")
        server = build_server(settings, notes=notes)
        add_fixtures(server)
        await serve_http(server, settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3001)
    anyio.run(serve_fixtures, parser.parse_args().port)


if __name__ == "__main__":
    main()
