"""Serving a sandbox over real HTTP with uvicorn."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import anyio
import uvicorn
from starlette.types import ASGIApp

from descript_mcp.sandbox.app import API_PREFIX, Sandbox


@asynccontextmanager
async def serve(sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Serve `sandbox` on host:port (0: any free port) in this event loop; yield the API URL."""
    # The sandbox sends its own Date header, from its own clock.
    async with serve_app(sandbox.app, host, port, date_header=False) as origin:
        yield origin + API_PREFIX


@asynccontextmanager
async def serve_app(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, date_header: bool = True
) -> AsyncIterator[str]:
    """Serve any ASGI app with uvicorn in this event loop; yield its origin (`http://h:p`)."""
    # The socket is closed here whatever happens: uvicorn closes it only on a clean shutdown.
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: without, each answer waits out a delayed ACK (~40 ms).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        bound_port = sock.getsockname()[1]
        # The peer's address is the client's: an app that reads past proxies does so itself.
        # Logging stays the host's too: its handlers and format, not uvicorn's.
        config = uvicorn.Config(
            app,
            log_level="warning",
            log_config=None,
            lifespan="auto",
            date_header=date_header,
            proxy_headers=False,
        )
        server = _EmbeddedServer(config)
        async with anyio.create_task_group() as task_group:
            task_group.start_soon(server.serve, [sock])
            while not server.started:
                if server.should_exit:
                    raise RuntimeError(f"could not serve on {host}:{bound_port}")
                await anyio.sleep(0.01)
            try:
                hostname = f"[{host}]" if ":" in host else host
                yield f"http://{hostname}:{bound_port}"
            finally:
                server.should_exit = True


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server inside a host program: signals stay the host's to handle."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
