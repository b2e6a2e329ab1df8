"""The `descript-mcp` command. Imports heavy modules inside commands, to start fast."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from descript_mcp._version import __version__
from descript_mcp.cli import auth
from descript_mcp.logs import configure_logging
from descript_mcp.settings import ENVIRONMENT


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    args.log_level = args.log_level or os.environ.get(ENVIRONMENT["log_level"]) or "warning"
    # A format other than these is refused by the settings of `serve`.
    args.log_format = args.log_format or os.environ.get(ENVIRONMENT["log_format"]) or "text"
    configure_logging(args.log_level, "json" if args.log_format == "json" else "text")
    from descript_mcp.redact import install_log_redaction

    install_log_redaction()
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
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="json: a JSON object a line (default: DESCRIPT_MCP_LOG_FORMAT, else text)",
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
    serve.add_argument(
        "--max-wait-seconds",
        type=float,
        help="the longest one call waits for a job, whatever it asks (default 600)",
    )
    serve.add_argument(
        "--read-only",
        action="store_const",
        const=True,
        help="offer only the tools that read: nothing is started, changed or saved",
    )
    serve.add_argument(
        "--toolsets",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        metavar="NAMES",
        help="comma-separated tool groups: media, agent, publish, jobs, projects, files, "
        "experimental, uploads; default (all but experimental and uploads) or all",
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
        "--callback-url",
        metavar="URL",
        help="over HTTP: the public base URL Descript can call back when jobs end",
    )
    serve.add_argument(
        "--http-token-fallback",
        action="store_const",
        const=True,
        help="over HTTP, use DESCRIPT_API_KEY for requests without a token",
    )
    serve.add_argument(
        "--http-local-files",
        action="store_const",
        const=True,
        help="over HTTP, allow local files too: each user gets a folder of their own under "
        "each root (off by default)",
    )
    serve.add_argument("--max-save-mb", type=int, help="largest file save_file writes (MiB)")
    serve.add_argument("--http-quota-mb", type=int, help="MiB each user keeps over HTTP")
    serve.add_argument("--max-sessions", type=int, help="over HTTP: sessions over all users")
    serve.add_argument(
        "--auth",
        choices=["token", "oauth"],
        help="over HTTP: token (each request brings a Descript token; default) or oauth "
        "(users connect once on this server's page; needs --public-url)",
    )
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="with --auth oauth: the https URL users reach this server at",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="over HTTP: Prometheus metrics at /metrics on this port (default: none)",
    )
    serve.set_defaults(run=_run_serve)
    auth.add_parser(commands)

    sandbox = commands.add_parser("sandbox", help="serve a local simulator of the Descript API")
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8765, help="port (default 8765)")
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
    sandbox.add_argument(
        "--rate-limit",
        type=int,
        metavar="N",
        help="API requests per token per minute before 429 (default 600)",
    )
    sandbox.set_defaults(run=_run_sandbox)

    def descript_command(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--json", action="store_true", help="print the result as JSON")
        return command

    add = descript_command("import", "import media (URLs, share links, local files)")
    add.add_argument("media", nargs="+", help="URLs, Google Drive/Dropbox links or file paths")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument("--project-name", help="create a project with this name")
    where.add_argument("--project-id", help="import into this project")
    add.add_argument("--composition", metavar="NAME", help="a composition of all the media")
    add.add_argument("--wait", type=float, help="seconds to wait (default: until done)")
    add.set_defaults(run=_run_descript, make=_import)

    agent = descript_command("agent", "edit a project with Descript's agent, Underlord")
    agent.add_argument("prompt", help="what to do, in plain words")
    target = agent.add_mutually_exclusive_group(required=True)
    target.add_argument("--project-id", help="edit this project")
    target.add_argument("--new", metavar="NAME", help="create a project from the prompt")
    agent.add_argument(
        "--composition-id", help="the composition to focus on (default: the agent chooses)"
    )
    agent.add_argument("--model", help="a model or alias (see list_agent_models)")
    agent.add_argument("--wait", type=float, help="seconds to wait (default: until done)")
    agent.set_defaults(run=_run_descript, make=_agent)

    publish = descript_command("publish", "render and publish a composition")
    publish.add_argument("project_id", help="the project to publish")
    publish.add_argument(
        "--composition-id", help="the composition (default: the first with content)"
    )
    publish.add_argument(
        "--access-level",
        choices=["public", "unlisted", "drive", "private"],
        help="who can open the page (default: the drive's setting)",
    )
    publish.add_argument(
        "--media-type", choices=["Video", "Audio"], help="default Video if it has any"
    )
    publish.add_argument(
        "--resolution", choices=["480p", "720p", "1080p", "1440p", "4K"], help="video only"
    )
    publish.add_argument("--download-to", type=Path, help="save the rendered file here")
    publish.add_argument(
        "--overwrite", action="store_true", help="replace a file already at --download-to"
    )
    publish.add_argument("--wait", type=float, help="seconds to wait (default: until done)")
    publish.set_defaults(run=_run_descript, make=_publish)

    jobs = descript_command("jobs", "list, show, wait for or cancel jobs")
    jobs.add_argument("action", choices=["list", "show", "wait", "cancel"], help="what to do")
    jobs.add_argument("job_id", nargs="?", help="the job (show, wait, cancel)")
    jobs.add_argument("--project-id", help="with list: this project's jobs only")
    jobs.add_argument(
        "--type", choices=["import/project_media", "agent"], help="with list: this kind only"
    )
    jobs.add_argument("--limit", type=int, default=20, help="with list: at most this many")
    jobs.add_argument("--wait", type=float, help="with wait: at most this many seconds")
    jobs.set_defaults(run=_run_descript, make=_jobs)

    status = descript_command("status", "check the token: which drive it belongs to")
    status.set_defaults(run=_run_descript, make=lambda _args: _status_command())

    doctor = commands.add_parser("doctor", help="check the set-up and say what to fix")
    doctor.set_defaults(run=_run_doctor)

    config = commands.add_parser("config", help="store settings for the command line")
    config.add_argument("action", choices=["set"], help="set a setting")
    config.add_argument("key", choices=["api-key"], help="the Descript API token")
    config.add_argument("value", nargs="?", help="default: asked for, without echo")
    config.set_defaults(run=_run_config)

    demo = commands.add_parser(
        "demo", help="import, edit and publish through the MCP tools on the built-in sandbox"
    )
    demo.add_argument("--fast", action="store_true", help="sandbox jobs finish at once")
    demo.set_defaults(run=_run_demo)
    return parser


def _run_serve(args: argparse.Namespace) -> int:
    from descript_mcp.errors import ConfigurationError
    from descript_mcp.server.http.run import serve
    from descript_mcp.settings import Settings

    try:
        # Each flag of serve sets the setting of its name (None: left to the environment).
        flags = {name: getattr(args, name) for name in Settings.model_fields if name in args}
        settings = Settings.load(**flags)
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
    if args.rate_limit is not None:
        config.rate_limit_requests = args.rate_limit
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
    # date_header off: the sandbox sends its own Date, from its own clock.
    uvicorn.run(sandbox.app, host=args.host, port=args.port, log_level="warning", date_header=False)
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from descript_mcp.cli.demo import DemoError, run_demo

    try:
        anyio.run(lambda: run_demo(fast=args.fast))
    except DemoError as error:
        print(f"descript-mcp demo: {error}", file=sys.stderr)
        return 1
    return 0


def _import(args: argparse.Namespace) -> Any:
    from descript_mcp.cli.commands import import_command

    return import_command(
        args.media, args.project_name, args.project_id, args.composition, args.wait
    )


def _agent(args: argparse.Namespace) -> Any:
    from descript_mcp.cli.commands import agent_command

    return agent_command(
        args.prompt, args.project_id, args.new, args.composition_id, args.model, args.wait
    )


def _publish(args: argparse.Namespace) -> Any:
    from descript_mcp.cli.commands import publish_command
    from descript_mcp.client.models import PublishRequest

    request = PublishRequest(
        project_id=args.project_id,
        composition_id=args.composition_id,
        access_level=args.access_level,
        media_type=args.media_type,
        resolution=args.resolution,
    )
    return publish_command(request, args.download_to, args.overwrite, args.wait)


def _jobs(args: argparse.Namespace) -> Any:
    from descript_mcp.cli.commands import jobs_command

    if args.action != "list" and not args.job_id:
        raise UsageError(f"jobs {args.action} needs a job id")
    filters = {"project_id": args.project_id, "type": args.type, "limit": args.limit}
    return jobs_command(args.action, args.job_id, filters, args.wait)


def _status_command() -> Any:
    from descript_mcp.cli.commands import status_command

    return status_command


class UsageError(Exception):
    pass


def _run_descript(args: argparse.Namespace) -> int:
    from descript_mcp.cli.commands import EXIT_USAGE, run_command
    from descript_mcp.errors import DescriptError
    from descript_mcp.settings import Settings

    try:
        settings = Settings.load()
        command = args.make(args)
    except (UsageError, DescriptError, ValueError) as error:
        print(f"descript-mcp: {error}", file=sys.stderr)
        return EXIT_USAGE
    return anyio.run(run_command, settings, args.json, command)


def _run_doctor(_args: argparse.Namespace) -> int:
    from descript_mcp.cli.commands import EXIT_USAGE, doctor
    from descript_mcp.errors import ConfigurationError
    from descript_mcp.settings import Settings

    try:
        settings = Settings.load()
    except ConfigurationError as error:
        print(f"descript-mcp doctor: {error}", file=sys.stderr)
        return EXIT_USAGE
    return anyio.run(doctor, settings)


def _run_config(args: argparse.Namespace) -> int:
    import getpass

    from descript_mcp.settings import save_api_key

    if args.value:
        print(
            "descript-mcp config: a token typed on the command line stays in your shell "
            "history; leave it out to be asked for it instead",
            file=sys.stderr,
        )
    token = args.value or getpass.getpass("Descript API token: ")
    if not token.strip():
        print("descript-mcp config: no token given", file=sys.stderr)
        return 2
    print(f"saved to {save_api_key(token.strip())} (readable by you only)", file=sys.stderr)
    return 0
