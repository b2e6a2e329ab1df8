"""What a start costs in imports: a plain `serve` (stdio, or HTTP in the token mode) loads
what it uses and no more. The hosted parts (the OAuth mode, PostgreSQL, the sandbox, metrics
and traces) load when their mode is chosen; the HTTP client, a tool's module and Descript's API
models, at the first call. The modules of descript-mcp a plain stdio start imports are listed
here: one more is a change to review, as the layering test does for layers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Loaded only when their mode is chosen, or at the first call.
HOSTED = (
    "descript_mcp.server.oauth",
    "descript_mcp.server.cluster",
    # The OAuth mode's and the replicas' stores in the history.
    "descript_mcp.history.grant_store",
    "descript_mcp.history.grants",
    "descript_mcp.history.budgets",
    "descript_mcp.history.leases",
    "descript_mcp.history.backends.postgres",
    "descript_mcp.sandbox",
    "psycopg",
    "prometheus_client",
    "opentelemetry.sdk",
    "descript_mcp.client.api",
    "httpx",
)
STDIO_START = {
    "descript_mcp",
    "descript_mcp._version",
    "descript_mcp.cli",
    "descript_mcp.cli.auth",
    "descript_mcp.cli.main",
    "descript_mcp.client",
    "descript_mcp.client.expiry",
    "descript_mcp.client.ledger",
    "descript_mcp.client.waiter",
    "descript_mcp.errors",
    "descript_mcp.files",
    "descript_mcp.files.handles",
    "descript_mcp.files.local",
    "descript_mcp.files.quota",
    "descript_mcp.files.transfer",
    "descript_mcp.history",
    "descript_mcp.history.backends",
    "descript_mcp.history.backends.sqlite",
    "descript_mcp.history.database",
    "descript_mcp.history.jobs",
    "descript_mcp.history.ledger",
    "descript_mcp.history.records",
    "descript_mcp.history.submissions",
    "descript_mcp.logs",
    "descript_mcp.redact",
    "descript_mcp.server",
    "descript_mcp.server.app",
    "descript_mcp.server.callers",
    "descript_mcp.server.errors",
    "descript_mcp.server.followed",
    "descript_mcp.server.http",
    "descript_mcp.server.http.callbacks",
    "descript_mcp.server.http.run",
    "descript_mcp.server.job_view",
    "descript_mcp.server.notify",
    "descript_mcp.server.observability",
    "descript_mcp.server.prompts",
    "descript_mcp.server.resources",
    "descript_mcp.server.state",
    "descript_mcp.server.summaries",
    "descript_mcp.server.supervise",
    "descript_mcp.server.tools",
    "descript_mcp.server.tools.catalogue",
    "descript_mcp.server.tools.input_schema",
    "descript_mcp.server.tools.registry",
    "descript_mcp.server.tracker",
    "descript_mcp.server.upload_links",
    "descript_mcp.settings",
}


def imported(command: list[str], tmp_path: Path, returncode: int = 0) -> set[str]:
    """Every module the command imported, as `python -X importtime` reports them."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "DESCRIPT_API_KEY": "a-token"},
    )
    assert run.returncode == returncode, run.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    }


def hosted(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == h or m.startswith(f"{h}.") for h in HOSTED)}


def test_a_stdio_start_imports_what_it_lists_and_nothing_hosted(tmp_path: Path) -> None:
    # The server starts, reads the end of its input, and stops: a whole start over stdio.
    modules = imported(["-m", "descript_mcp", "serve", "--history", "h.sqlite3"], tmp_path)
    assert hosted(modules) == set()
    assert "descript_mcp.server.http.gate" not in modules  # what admits callers over HTTP
    ours = {m for m in modules if m.split(".")[0] == "descript_mcp"}
    assert ours == STDIO_START, (
        f"new: {sorted(ours - STDIO_START)}; gone: {sorted(STDIO_START - ours)}. A start "
        "should not pay for what it does not use: import it where it is used, or list it here"
    )


def test_an_http_start_in_the_token_mode_imports_nothing_hosted(tmp_path: Path) -> None:
    built = (
        "from descript_mcp.server.app import build_server\n"
        "from descript_mcp.server.http.run import http_app\n"
        "from descript_mcp.settings import Settings\n"
        "settings = Settings.load(transport='http', history_path='h.sqlite3')\n"
        "http_app(build_server(settings), settings)\n"
    )
    assert hosted(imported(["-c", built], tmp_path)) == set()


def test_the_oauth_mode_loads_its_modules_when_chosen(tmp_path: Path) -> None:
    built = (
        "from descript_mcp.server.app import build_server\n"
        "from descript_mcp.settings import Settings\n"
        "build_server(Settings.load(transport='http', auth='oauth', "
        "public_url='http://127.0.0.1:9', history_path='h.sqlite3'))\n"
    )
    assert "descript_mcp.server.oauth.provider" in imported(["-c", built], tmp_path)


def test_the_command_line_offers_its_commands_without_loading_them(tmp_path: Path) -> None:
    """Parsing `descript-mcp` (here, its --help) loads no command's work: no history, no
    server, no client."""
    modules = imported(["-m", "descript_mcp", "--help"], tmp_path)
    ours = {m for m in modules if m.startswith("descript_mcp.")}
    assert not {m for m in ours if m.startswith(("descript_mcp.history", "descript_mcp.server"))}
    assert "descript_mcp.client.models" not in ours


def test_the_descript_commands_load_no_mcp(tmp_path: Path) -> None:
    """`jobs`, `import`, `publish` and the rest talk to Descript: they use the server's job
    summaries, not the MCP SDK (which costs a second of CPU to import)."""
    # A job command's usage error: it is parsed, loaded and run, and asks Descript nothing.
    modules = imported(["-m", "descript_mcp", "jobs", "show"], tmp_path, returncode=2)
    assert "descript_mcp.server.summaries" in modules
    assert {m for m in modules if m == "mcp" or m.startswith("mcp.")} == set()
    assert "descript_mcp.server.app" not in modules
