"""The `descript-mcp` command. Imports heavy modules inside commands, to start fast."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import anyio

from descript_mcp._version import __version__


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.log_level = args.log_level or os.environ.get("DESCRIPT_MCP_LOG_LEVEL") or "warning"
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    return int(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="descript-mcp", description="Drive Descript from AI assistants, over MCP."
    )
    parser.add_argument("--version", action="version", version=f"descript-mcp {__version__}")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default: DESCRIPT_MCP_LOG_LEVEL, else warning",
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument(
        "--transport",
        choices=["stdio", "sse", "http"],
        help="stdio (default), sse, or http (streamable HTTP)",
    )
    serve.add_argument("--host", help="address for sse/http (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port for sse/http (default 8000)")
    serve.add_argument(
        "--sandbox",
        nargs="?",
        const="realistic",
        choices=["realistic", "fast"],
        help="run against the built-in sandbox: no Descript account needed (fast: jobs "
        "finish at once)",
    )
    serve.add_argument("--history", dest="history_path", help="the job history SQLite file")
    serve.add_argument(
        "--wait-seconds", type=float, help="how long job tools wait before returning (default 45)"
    )
    serve.add_argument("--api-url", help="the Descript API base URL")
    serve.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        metavar="HOST",
        help="a host name HTTP clients may use besides loopback names (repeatable)",
    )
    serve.add_argument(
        "--root",
        action="extend",
        nargs="*",
        dest="roots",
        metavar="FOLDER",
        help="folders whose files may be read and written (default: DESCRIPT_MCP_ROOTS)",
    )
    serve.add_argument(
        "--http-token-fallback",
        action="store_const",
        const=True,
        help="over HTTP, use DESCRIPT_API_KEY for requests without a token",
    )
    serve.set_defaults(run=_run_serve)

    sandbox = commands.add_parser("sandbox", help="serve a local simulator of the Descript API")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--fast", action="store_true", help="jobs finish in a blink")
    sandbox.add_argument(
        "--token",
        action="append",
        metavar="TOKEN",
        help="a token for the main drive (repeatable; replaces the default sandbox-token)",
    )
    sandbox.add_argument(
        "--allow-remote-urls",
        action="store_true",
        help="fetch media URLs beyond loopback addresses",
    )
    sandbox.set_defaults(run=_run_sandbox)

    demo = commands.add_parser(
        "demo", help="import, edit and publish through the MCP tools on the built-in sandbox"
    )
    demo.add_argument("--fast", action="store_true", help="sandbox jobs finish at once")
    demo.set_defaults(run=_run_demo)
    return parser


def _run_serve(args: argparse.Namespace) -> int:
    from descript_mcp.config import Settings
    from descript_mcp.errors import ConfigurationError
    from descript_mcp.server.run import serve

    try:
        settings = Settings.load(
            transport=args.transport,
            host=args.host,
            port=args.port,
            history_path=args.history_path,
            wait_seconds=args.wait_seconds,
            api_url=args.api_url,
            roots=args.roots,
            allowed_hosts=args.allowed_hosts,
            http_token_fallback=args.http_token_fallback,
            log_level=args.log_level,
        )
    except ConfigurationError as error:
        print(f"descript-mcp serve: {error}", file=sys.stderr)
        return 2
    anyio.run(lambda: serve(settings, sandbox=args.sandbox))
    return 0


def _run_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from descript_mcp.sandbox import Sandbox, SandboxConfig

    config = SandboxConfig.for_tests() if args.fast else SandboxConfig()
    config.allow_remote_urls = args.allow_remote_urls
    if args.token:
        config.drives[0].tokens = tuple(args.token)
    sandbox = Sandbox(config)
    origin = f"http://{args.host}:{args.port}"
    drives = "; ".join(f"{d.name}: {', '.join(d.tokens)}" for d in config.drives)
    print(
        f"Descript sandbox at {origin}/v1\n"
        f"  tokens by drive: {drives}\n"
        f"  sample media: {origin}/_sandbox/media/sample.wav",
        file=sys.stderr,
    )
    uvicorn.run(sandbox.app, host=args.host, port=args.port, log_level="warning")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from descript_mcp.demo import DemoError, run_demo

    try:
        anyio.run(lambda: run_demo(fast=args.fast))
    except DemoError as error:
        print(f"descript-mcp demo: {error}", file=sys.stderr)
        return 1
    return 0
