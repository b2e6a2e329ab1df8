"""Running the server on a transport, optionally with the built-in sandbox behind it."""

from __future__ import annotations

import logging
import sys
from contextlib import AsyncExitStack

from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr

from descript_mcp.config import Settings
from descript_mcp.server.app import build_server

logger = logging.getLogger("descript_mcp.server")


def transport_security(host: str) -> TransportSecuritySettings:
    """DNS-rebinding protection on: only this host and loopback names may be in Host."""
    hosts = {host, "127.0.0.1", "localhost", "[::1]"}
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted(f"{name}:*" for name in hosts),
        allowed_origins=sorted(
            f"{scheme}://{name}:*" for name in hosts for scheme in ("http", "https")
        ),
    )


async def serve(settings: Settings, *, sandbox: bool = False) -> None:
    async with AsyncExitStack() as stack:
        if sandbox:
            from descript_mcp.sandbox import Sandbox
            from descript_mcp.sandbox import serve as serve_sandbox

            simulated = await stack.enter_async_context(Sandbox())
            api_url = await stack.enter_async_context(serve_sandbox(simulated))
            settings = settings.model_copy(
                update={"api_url": api_url, "api_key": SecretStr(simulated.token)}
            )
            print(f"descript-mcp: using the built-in sandbox at {api_url}", file=sys.stderr)
        server = build_server(settings)
        security = transport_security(settings.host)
        match settings.transport:
            case "stdio":
                await server.run_stdio_async()
            case "sse":
                await server.run_sse_async(
                    host=settings.host, port=settings.port, transport_security=security
                )
            case "http":
                await server.run_streamable_http_async(
                    host=settings.host, port=settings.port, transport_security=security
                )
