"""`descript-mcp auth`: the OAuth mode's grants, from the command line. Lists clients and
grants (never a secret) and revokes them; reads the same history the server writes.

Apps' and drives' names are chosen by whoever registered the app or named the drive: they are
printed with their control characters written out (`\x1b`), so a name cannot move the
cursor, rewrite the screen, set the window's title or the clipboard of the operator's terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from descript_mcp.errors import ConfigurationError
from descript_mcp.settings import Settings

if TYPE_CHECKING:
    from descript_mcp.history import History
    from descript_mcp.history.grants import GrantSummary


def add_parser(commands: Any) -> None:
    auth = commands.add_parser("auth", help="list or revoke the OAuth mode's connections")
    actions = auth.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="clients and their grants (no secrets)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)
    revoke = actions.add_parser(
        "revoke", help="revoke a grant (its tokens stop working and its Descript token is wiped)"
    )
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("grant_id", nargs="?", help="a grant id from `auth list`")
    which.add_argument("--client", metavar="CLIENT_ID", help="every grant of this client")
    revoke.set_defaults(run=run_revoke)


def run_list(args: argparse.Namespace) -> int:
    summaries = anyio.run(_with_history, _list)
    if args.json:
        print(json.dumps([_as_json(s) for s in summaries], indent=2))
        return 0
    if not summaries:
        print("No grants: nobody has connected through OAuth yet.")
        return 0
    for summary in summaries:
        grant = summary.grant
        state = f"revoked {grant.revoked_at}" if grant.revoked_at else "live"
        print(
            f"{grant.grant_id}  {state:<30} {shown(summary.client_name or '(unnamed)')} "
            f"[{shown(grant.client_id)}]  drive: {shown(grant.drive_name or '?')}  "
            f"owner: {grant.owner}  since {grant.created_at}  live tokens: {summary.live_tokens}"
        )
    return 0


def shown(text: str) -> str:
    """`text` with its control and formatting characters (escapes, bidi overrides, line
    separators) written as Python escapes."""
    return "".join(
        ascii(ch)[1:-1] if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
        for ch in text
    )


def run_revoke(args: argparse.Namespace) -> int:
    revoked: list[str] = anyio.run(_with_history, _revoke, args.grant_id, args.client)
    if not revoked:
        print("descript-mcp auth revoke: no live grant matched", file=sys.stderr)
        return 1
    for grant_id in revoked:
        print(f"revoked {grant_id}")
    return 0


async def _with_history(work: Any, *args: Any) -> Any:
    try:
        settings = Settings.load()
    except ConfigurationError as error:
        print(f"descript-mcp auth: {error}", file=sys.stderr)
        raise SystemExit(2) from error
    from descript_mcp.history import History  # when the command runs, not to offer it

    history = await History.open(settings.history_path, settings.database())
    try:
        return await work(history, *args)
    finally:
        await history.aclose()


async def _list(history: History) -> list[GrantSummary]:
    return await history.grants.grants()


async def _revoke(history: History, grant_id: str | None, client_id: str | None) -> list[str]:
    if grant_id is not None:
        candidates = [grant_id]
    else:
        candidates = [s.grant.grant_id for s in await history.grants.grants(client_id)]
    at = datetime.now(UTC).isoformat(timespec="seconds")
    return [g for g in candidates if await history.grants.revoke_grant(g, at)]


def _as_json(summary: GrantSummary) -> dict[str, Any]:
    grant = summary.grant
    return {
        "grant_id": grant.grant_id,
        "client_id": grant.client_id,
        "client_name": summary.client_name,
        "owner": grant.owner,
        "drive_name": grant.drive_name,
        "created_at": grant.created_at,
        "revoked_at": grant.revoked_at,
        "live_tokens": summary.live_tokens,
    }
