"""Running the server on a transport, optionally with the built-in sandbox behind it."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import anyio
import uvicorn
import uvicorn.config
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import SecretStr
from starlette.types import ASGIApp

from descript_mcp.server.app import DescriptServer, build_server
from descript_mcp.settings import Settings

if TYPE_CHECKING:
    from descript_mcp.server.http.lifecycle import Lifecycle

logger = logging.getLogger(__name__)

# Tool calls are small; a larger body is refused (413) before it is read.
MAX_BODY = 1024 * 1024
# Once drained, how long uvicorn lets what is still open finish before cutting it.
STOP_GRACE = 1

# The sample is named by a reference, not its URL: a client may read these instructions from
# another process of this server, whose sandbox listens elsewhere (tools/samples.py).
SANDBOX_NOTE = """
This server is connected to a built-in sandbox that simulates Descript: no account is used and
nothing is billed. Media to try: the URL sandbox:sample.wav (a 12-second recording; import it
as sample.wav).
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
            settings, notes = await start_sandbox(stack, settings, sandbox)
        server = build_server(settings, notes=notes)
        if settings.transport == "stdio":
            await server.run_stdio_async()
            return
        await serve_http(server, settings)


async def start_sandbox(
    stack: AsyncExitStack, settings: Settings, sandbox: Literal["realistic", "fast"]
) -> tuple[Settings, str]:
    """Start a built-in sandbox that lives as long as `stack`: the settings that point at it,
    and the notes for the server's instructions."""
    from descript_mcp.sandbox import Sandbox, SandboxConfig
    from descript_mcp.sandbox import serve as serve_sandbox

    config = SandboxConfig.for_tests() if sandbox == "fast" else SandboxConfig()
    simulated = await stack.enter_async_context(Sandbox(config))
    api_url = await stack.enter_async_context(serve_sandbox(simulated))
    media = api_url.removesuffix("/v1") + "/_sandbox/media/"
    settings = settings.model_copy(
        update={"api_url": api_url, "api_key": SecretStr(simulated.token), "sandbox_media": media}
    )
    how = (
        f"connect to {settings.issuer_url()}/mcp and give the connect page the token "
        f"{simulated.token}"
        if settings.auth == "oauth"
        else f"over HTTP, send Authorization: Bearer {simulated.token} (or start with "
        "--http-token-fallback)"
    )
    print(f"descript-mcp: using the built-in sandbox at {api_url}; {how}", file=sys.stderr)
    return settings, SANDBOX_NOTE


async def serve_http(server: DescriptServer, settings: Settings) -> None:
    """Serve `server` over the configured HTTP transport (sse or streamable HTTP) until
    stopped; the first SIGTERM or SIGINT drains it first (`Lifecycle.drain`), a second stops it
    at once. Metrics on a port of their own are served beside it."""
    behind_proxy = settings.auth == "oauth" and settings.issuer_url().startswith("https://")
    if behind_proxy and not settings.trusted_proxies:
        logger.warning(
            "the public URL is https, so a proxy forwards to this server, but no proxy is "
            "trusted to name the client (DESCRIPT_MCP_TRUSTED_PROXIES): everyone shares the "
            "proxy's address, and its budgets of sign-ins and token checks"
        )
    app = http_app(server, settings)
    stopping = anyio.Event()
    main = _Draining(_config(app, settings, settings.port), stopping.set)

    async def drain_then_stop() -> None:
        await stopping.wait()
        await app.drain(settings.drain_seconds)
        main.should_exit = True

    metrics = server.metrics
    side = None
    if metrics is not None and settings.metrics_port != settings.port:
        side = _Quiet(_config(metrics.app(), settings, settings.metrics_port or 0))
    async with anyio.create_task_group() as group:
        if side is not None:
            group.start_soon(side.serve)
        async with anyio.create_task_group() as draining:
            draining.start_soon(drain_then_stop)
            await main.serve()
            draining.cancel_scope.cancel()
        if side is not None:
            side.should_exit = True


def _config(app: ASGIApp, settings: Settings, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=False,  # forwarded addresses are read by ForwardedAddresses, or not at all
        # JSON logs: uvicorn's records go through the root logger's JSON lines too.
        log_config=None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG,
        # After the drain, what is still open is cut this long after.
        timeout_graceful_shutdown=STOP_GRACE,
    )


class _Draining(uvicorn.Server):
    """uvicorn, whose first SIGTERM or SIGINT calls `on_stop` (which drains, then stops it)
    instead of stopping at once; a second signal stops it at once."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_stop = on_stop
        self._stopping = False

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._stopping:
            super().handle_exit(sig, frame)
            return
        self._stopping = True
        self._captured_signals.append(sig)  # raised again once stopped, as uvicorn does
        self._loop.call_soon_threadsafe(self._on_stop)


class _Quiet(uvicorn.Server):
    """uvicorn for a side listener (the metrics): the main server handles the signals."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def http_app(server: DescriptServer, settings: Settings) -> Lifecycle:
    """The ASGI app for the configured HTTP transport (`_gated_app`), with in front of all the
    probes, metrics when on this port, and the drain (see `lifecycle`)."""
    from descript_mcp.server.http.lifecycle import Lifecycle  # over HTTP only

    gated = _gated_app(server, settings)
    metrics = server.metrics
    if metrics is None:
        return Lifecycle(gated, server)
    on_this_port = settings.metrics_port == settings.port
    lifecycle = Lifecycle(gated, server, metrics.app() if on_this_port else None)
    metrics.live.lifecycle = lifecycle
    return lifecycle


def _gated_app(server: DescriptServer, settings: Settings) -> ASGIApp:
    """The ASGI app for the configured HTTP transport, with DNS-rebinding protection, a body
    size limit, sessions that expire when idle, the gate in front (see `gate`), and the
    client's address read past trusted proxies (see `addresses`)."""
    from descript_mcp.server.http.addresses import ForwardedAddresses  # over HTTP only
    from descript_mcp.server.http.gate import (
        SESSION_IDLE,
        Gate,
        GrantAdmission,
        TokenAdmission,
        confirm_with,
    )

    allowed = settings.allowed_hosts
    if settings.public_url:  # the name clients reach it by, behind its proxy
        allowed += (urlsplit(settings.public_url).netloc,)
    security = transport_security(settings.host, allowed)
    if settings.transport == "sse":
        app = server.sse_app(
            transport_security=security, host=settings.host, max_request_body_size=MAX_BODY
        )
    else:
        app = server.streamable_http_app(
            transport_security=security,
            host=settings.host,
            max_request_body_size=MAX_BODY,
            session_idle_timeout=SESSION_IDLE,
            max_sessions=settings.max_sessions,
        )
    if server.oauth is not None:
        from descript_mcp.server.oauth import endpoints, metadata_route

        app.router.routes[:0] = [metadata_route(settings), *endpoints.routes(server.oauth)]
        oauth = server.oauth

        async def owner_of_access(token: str) -> str | None:
            access = await oauth.load_access_token(token)
            return access.subject if access is not None else None

        admission: TokenAdmission | GrantAdmission = GrantAdmission(owner_of_access)
    else:
        lent = settings.token() if settings.http_token_fallback else None
        admission = TokenAdmission(confirm_with(server.client_factory), lent_token=lent)
    gate = Gate(app, admission, most_sessions=settings.max_sessions)
    server.notifier.budget = gate.book  # a 2026-07-28 listen stream is a session while it lasts
    return ForwardedAddresses(gate, settings.trusted_proxies)
