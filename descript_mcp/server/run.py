"""Running the server on a transport, optionally with the built-in sandbox behind it."""

from __future__ import annotations

import logging
import sys
from contextlib import AsyncExitStack
from typing import Literal

from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr

from descript_mcp.config import Settings
from descript_mcp.server.app import build_server

logger = logging.getLogger("descript_mcp.server")

SANDBOX_NOTE = """
This server is connected to a built-in sandbox that simulates Descript: no account is used and
nothing is billed. Media to try: {sample} (a 12-second recording; import it as sample.wav).
"""


def transport_security(host: str, allowed: tuple[str, ...] = ()) -> TransportSecuritySettings:
    """DNS-rebinding protection on: Host and Origin must name this server, by loopback names,
    the bound host, or an allowed one (`name` means any port, `name:port` that port only)."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in ("0.0.0.0", "::"):
        names.add(host)
    hosts = {f"{name}:*" for name in names} | {h if ":" in h else f"{h}:*" for h in allowed}
    hosts |= {h for h in allowed if ":" not in h}  # behind a proxy the Host may have no port
    origins = {f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")}
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted(hosts),
        allowed_origins=sorted(origins),
    )


async def serve(settings: Settings, *, sandbox: Literal["realistic", "fast"] | None = None) -> None:
    """Serve on the configured transport; with `sandbox`, against a built-in one."""
    async with AsyncExitStack() as stack:
        notes = ""
        if sandbox is not None:
            from descript_mcp.sandbox import Sandbox, SandboxConfig
            from descript_mcp.sandbox import serve as serve_sandbox

            config = SandboxConfig.for_tests() if sandbox == "fast" else SandboxConfig()
            simulated = await stack.enter_async_context(Sandbox(config))
            api_url = await stack.enter_async_context(serve_sandbox(simulated))
            settings = settings.model_copy(
                update={"api_url": api_url, "api_key": SecretStr(simulated.token)}
            )
            sample = api_url.removesuffix("/v1") + "/_sandbox/media/sample.wav"
            notes = SANDBOX_NOTE.format(sample=sample)
            print(
                f"descript-mcp: using the built-in sandbox at {api_url}; over HTTP, send "
                f"Authorization: Bearer {simulated.token} (or start with --http-token-fallback)",
                file=sys.stderr,
            )
        server = build_server(settings, notes=notes)
        security = transport_security(settings.host, settings.allowed_hosts)
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
