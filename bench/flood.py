"""What strangers can make the OAuth mode store: `descript-mcp serve --auth oauth` in a process
of its own (trusting loopback as its proxy, so that each request names an address of its own
in X-Forwarded-For, as a crowd of attackers would), against a sandbox process, is flooded with
registrations, sign-ins and Descript tokens tried on the connect page, every field at its
largest allowed, until its budgets refuse; then the history's tables are measured.

    python -m bench.flood            # the server's own budgets, filled
    python -m bench.flood --quick    # a part of each: rows and the largest row, extrapolated

Goal: every table holds at most its bound (SECURITY.md), and the history file stays within a
few tens of MiB whatever is sent.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import sys
import tempfile
from pathlib import Path

import httpx

from bench._sandbox import background, free_port, sandbox_process, serve_command, wait_listening
from descript_mcp.server.oauth.limits import Limits

# Each table the anonymous requests write, and the size of what one row holds.
TABLES = {
    "oauth_clients": "length(client_id) + length(info_json) + coalesce(length(sealed_secret), 0)",
    "oauth_sign_ins": "length(request_id) + length(client_id) + length(params_json) + "
    "length(csrf) + coalesce(length(browser), 0)",
    "budget_spends": "length(kind) + length(key) + 8",
}
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGjSTF7Ac0"


def address(n: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"10.{n // 62_500 % 250}.{n // 250 % 250}.{n % 250 + 1}"}


def flood(origin: str, registrations: int, sign_ins: int, checks: int) -> dict[str, int]:
    """Requests made and let through, of each kind."""
    through = {"registrations": 0, "sign-ins": 0, "checks": 0}
    clients: list[tuple[str, str]] = []
    connect_pages: list[str] = []
    with httpx.Client(timeout=30) as http:
        for n in range(registrations):
            uris = [f"https://a{n}.example/{k}/" + "x" * 470 for k in range(10)]
            answer = http.post(
                f"{origin}/register",
                json={"client_name": "x" * 100, "redirect_uris": uris},
                headers=address(n),
            )
            if answer.status_code == 201:
                through["registrations"] += 1
                clients.append((answer.json()["client_id"], uris[0]))
        for n in range(sign_ins):
            client_id, redirect_uri = clients[n % len(clients)]
            query = {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "code_challenge": CHALLENGE,
                "code_challenge_method": "S256",
                "state": "s" * 1_000,
            }
            answer = http.get(f"{origin}/authorize", params=query, headers=address(n))
            if answer.status_code == 302:
                through["sign-ins"] += 1
                connect_pages.append(answer.headers["location"])
        for n, page in enumerate(connect_pages[:checks]):
            http.cookies.clear()
            opened = http.get(page, headers=address(n))
            found = re.search(r"name=csrf value=([^\s>]+)", opened.text)
            if found is None:
                continue
            form = {"csrf": found.group(1), "action": "check", "token": "x" * 512}
            answer = http.post(page, data=form, headers=address(n))
            through["checks"] += answer.status_code != 429
    return through


def measure(history: Path) -> dict[str, tuple[int, int, int]]:
    """Rows, bytes held, and the largest row's bytes, of each table."""
    with sqlite3.connect(f"file:{history}?mode=ro", uri=True) as db:
        return {
            table: db.execute(
                f"SELECT count(*), coalesce(sum({size}), 0), coalesce(max({size}), 0) FROM {table}"
            ).fetchone()
            for table, size in TABLES.items()
        }


def run(quick: bool = False) -> list[tuple[str, str]]:
    limits = Limits()
    # The whole server's budgets, and one more of each to be refused (a tenth when quick).
    share = 10 if quick else 1
    registrations = limits.registrations.allowed // share + 1
    sign_ins = limits.sign_ins.allowed // share + 1
    checks = limits.checks.allowed // share + 1
    with tempfile.TemporaryDirectory() as home, sandbox_process() as api:
        port = free_port()
        history = Path(home) / "history.sqlite3"
        origin = f"http://127.0.0.1:{port}"
        command = [
            *serve_command(port, api, history),
            *("--auth", "oauth", "--public-url", origin),
        ]
        environment = os.environ | {"DESCRIPT_MCP_TRUSTED_PROXIES": "127.0.0.1"}
        with background(command, env=environment) as server:
            wait_listening(port, server, timeout=30)
            through = flood(origin, registrations, sign_ins, checks)
            tables = measure(history)
            on_disk = sum(p.stat().st_size for p in Path(home).glob("history.sqlite3*"))
    bounds = {
        "oauth_clients": limits.unused_clients,
        "oauth_sign_ins": limits.open_sign_ins,
        # Each attempt let through is charged to two (registrations, authorize), one more
        # (a sign-in opened) or four (a token tried) budgets.
        "budget_spends": 2 * limits.registrations.allowed
        + 3 * limits.sign_ins.allowed
        + 4 * limits.checks.allowed,
    }
    rows = [
        (
            "flood: let through of registrations, sign-ins, token checks",
            f"{through['registrations']:,} of {registrations:,}, {through['sign-ins']:,} of "
            f"{sign_ins:,}, {through['checks']:,} of {checks:,}",
        )
    ]
    for table, (counted, held, largest) in tables.items():
        bound = bounds[table]
        rows.append(
            (
                f"flood: {table} rows, bytes held (at its bound of {bound:,} rows)",
                f"{counted:,} rows, {held / 1024**2:.2f} MiB, largest row {largest:,} B "
                f"({bound * largest / 1024**2:.1f} MiB at the bound)",
            )
        )
    rows.append(("flood: history file and its WAL after the flood", f"{on_disk / 1024**2:.1f} MiB"))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of each budget")
    args = parser.parse_args()
    for name, figure in run(quick=args.quick):
        print(f"  {name}: {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
