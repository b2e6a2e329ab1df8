"""The OAuth mode's clients, sign-ins, grants, codes and tokens in the history."""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from typing import Any

from descript_mcp.history.database import Database, Statements
from descript_mcp.history.grants import (
    CodeRecord,
    Grant,
    GrantSummary,
    RegisteredClient,
    SignIn,
    TokenKind,
    TokenRecord,
)

_SIGN_IN = "request_id, client_id, params_json, csrf, expires_at, browser, sealed_token, owner, "
_SIGN_IN += "drive_name"
_GRANT = "grant_id, client_id, owner, drive_name, sealed_token, created_at, revoked_at"
_CODE = "code_hash, grant_id, client_id, redirect_uri, redirect_uri_explicit, code_challenge, "
_CODE += "scopes_json, resource, expires_at, used_at"
_TOKEN = "token_hash, kind, grant_id, client_id, scopes_json, resource, expires_at, used_at, "
_TOKEN += "revoked"
# A client that never completed a sign-in (registered, then abandoned, or by a stranger).
_UNUSED = "NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = c.client_id)"


class GrantStore:
    """Each change that must not half-happen is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_client(self, client: RegisteredClient, unused_at_most: int) -> int:
        """Register a client; past `unused_at_most` clients that never completed a sign-in,
        the oldest of those are forgotten (anyone can register one). How many were."""
        async with self._db.transaction(serialize="clients") as tx:
            await tx.execute(
                "INSERT INTO oauth_clients VALUES (?, ?, ?, ?)",
                (client.client_id, client.info_json, client.sealed_secret, client.registered_at),
            )
            counted = await tx.one(
                f"SELECT count(*) AS unused FROM oauth_clients c WHERE {_UNUSED}"
            )
            excess = (counted["unused"] if counted else 0) - unused_at_most
            if excess <= 0:
                return 0
            return await tx.execute(
                "DELETE FROM oauth_clients WHERE client_id IN (SELECT client_id FROM "
                f"oauth_clients c WHERE {_UNUSED} ORDER BY registered_at LIMIT ?)",
                (excess,),
            )

    async def client(self, client_id: str) -> RegisteredClient | None:
        row = await self._one("SELECT * FROM oauth_clients WHERE client_id = ?", (client_id,))
        return RegisteredClient(**row) if row else None

    async def open_sign_in(self, sign_in: SignIn, at: float, at_most: int) -> bool:
        """Record a sign-in, unless `at_most` are kept already (anyone can start one): ended
        ones are dropped to make room, so the table never holds more."""

        async with self._db.transaction(serialize="sign-ins") as tx:
            counted = await tx.one("SELECT count(*) AS kept FROM oauth_sign_ins")
            if counted is not None and counted["kept"] >= at_most:
                await tx.execute("DELETE FROM oauth_sign_ins WHERE expires_at < ?", (at,))
                counted = await tx.one("SELECT count(*) AS kept FROM oauth_sign_ins")
                if counted is not None and counted["kept"] >= at_most:
                    return False
            await tx.execute(
                f"INSERT INTO oauth_sign_ins ({_SIGN_IN}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sign_in.request_id,
                    sign_in.client_id,
                    sign_in.params_json,
                    sign_in.csrf,
                    sign_in.expires_at,
                    sign_in.browser,
                    sign_in.sealed_token,
                    sign_in.owner,
                    sign_in.drive_name,
                ),
            )
            return True

    async def sign_in(self, request_id: str) -> SignIn | None:
        row = await self._one(
            f"SELECT {_SIGN_IN} FROM oauth_sign_ins WHERE request_id = ?", (request_id,)
        )
        return SignIn(**row) if row else None

    async def bind_browser(self, request_id: str, browser: str) -> bool:
        """Bind a sign-in to the first browser that opens it; False if another has."""
        changed = await self._write(
            "UPDATE oauth_sign_ins SET browser = ? WHERE request_id = ? AND browser IS NULL",
            (browser, request_id),
        )
        return changed == 1

    async def accept_token(
        self, request_id: str, sealed_token: bytes, owner: str, drive_name: str | None
    ) -> None:
        await self._write(
            "UPDATE oauth_sign_ins SET sealed_token = ?, owner = ?, drive_name = ? "
            "WHERE request_id = ?",
            (sealed_token, owner, drive_name, request_id),
        )

    async def close_sign_in(self, request_id: str) -> bool:
        """End a sign-in; True only for the one call that ended it."""
        changed = await self._write(
            "DELETE FROM oauth_sign_ins WHERE request_id = ?", (request_id,)
        )
        return changed == 1

    async def create_grant(self, grant: Grant, code: CodeRecord) -> None:
        async with self._db.transaction() as tx:
            await tx.execute(
                f"INSERT INTO oauth_grants ({_GRANT}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    grant.grant_id,
                    grant.client_id,
                    grant.owner,
                    grant.drive_name,
                    grant.sealed_token,
                    grant.created_at,
                    grant.revoked_at,
                ),
            )
            await tx.execute(
                f"INSERT INTO oauth_codes ({_CODE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code.code_hash,
                    code.grant_id,
                    code.client_id,
                    code.redirect_uri,
                    int(code.redirect_uri_explicit),
                    code.code_challenge,
                    json.dumps(code.scopes),
                    code.resource,
                    code.expires_at,
                    code.used_at,
                ),
            )

    async def grant(self, grant_id: str) -> Grant | None:
        row = await self._one(f"SELECT {_GRANT} FROM oauth_grants WHERE grant_id = ?", (grant_id,))
        return Grant(**row) if row else None

    async def code(self, code_hash: str) -> CodeRecord | None:
        row = await self._one(f"SELECT {_CODE} FROM oauth_codes WHERE code_hash = ?", (code_hash,))
        if row is None:
            return None
        row["scopes"] = tuple(json.loads(row.pop("scopes_json")))
        row["redirect_uri_explicit"] = bool(row["redirect_uri_explicit"])
        return CodeRecord(**row)

    async def use_code(self, code_hash: str, at: float) -> bool:
        """Mark a code used; True only for the first use."""
        changed = await self._write(
            "UPDATE oauth_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL",
            (at, code_hash),
        )
        return changed == 1

    async def issue(self, *tokens: TokenRecord) -> None:
        async with self._db.transaction() as tx:
            await _insert_tokens(tx, tokens)

    async def token(self, token_hash: str, kind: TokenKind) -> TokenRecord | None:
        row = await self._one(
            f"SELECT {_TOKEN} FROM oauth_tokens WHERE token_hash = ? AND kind = ?",
            (token_hash, kind),
        )
        if row is None:
            return None
        row["scopes"] = tuple(json.loads(row.pop("scopes_json")))
        row["revoked"] = bool(row["revoked"])
        return TokenRecord(**row)

    async def live_access(self, token_hash: str, at: float) -> tuple[TokenRecord, Grant] | None:
        """An access token that is unexpired, unrevoked, of a live grant; with its grant. One
        query: every MCP request asks it."""
        columns = ", ".join(f"t.{c}" for c in _TOKEN.split(", "))
        grant_columns = ", ".join(f"g.{c} AS g_{c}" for c in _GRANT.split(", "))
        row = await self._one(
            f"SELECT {columns}, {grant_columns} FROM oauth_tokens t JOIN oauth_grants g "
            "ON g.grant_id = t.grant_id WHERE t.token_hash = ? AND t.kind = 'access' AND "
            "t.revoked = 0 AND t.expires_at >= ? AND g.revoked_at IS NULL",
            (token_hash, at),
        )
        if row is None:
            return None
        grant = Grant(**{c: row.pop(f"g_{c}") for c in _GRANT.split(", ")})
        row["scopes"] = tuple(json.loads(row.pop("scopes_json")))
        row["revoked"] = bool(row["revoked"])
        return TokenRecord(**row), grant

    async def rotate(self, refresh_hash: str, at: float, *tokens: TokenRecord) -> bool:
        """Spend a refresh token and issue its successors, atomically; False (and nothing
        issued) if it was spent or revoked already."""

        async with self._db.transaction() as tx:
            spent = await tx.execute(
                "UPDATE oauth_tokens SET used_at = ? WHERE token_hash = ? AND kind = "
                "'refresh' AND used_at IS NULL AND revoked = 0",
                (at, refresh_hash),
            )
            if spent != 1:
                return False
            await _insert_tokens(tx, tokens)
            return True

    async def revoke_grant(self, grant_id: str, at: str) -> bool:
        """Revoke a grant and every code and token issued under it, and wipe its sealed
        Descript token; True if it was live."""

        async with self._db.transaction() as tx:
            live = await tx.execute(
                "UPDATE oauth_grants SET revoked_at = ?, sealed_token = NULL "
                "WHERE grant_id = ? AND revoked_at IS NULL",
                (at, grant_id),
            )
            await tx.execute("UPDATE oauth_tokens SET revoked = 1 WHERE grant_id = ?", (grant_id,))
            await tx.execute(
                "UPDATE oauth_codes SET used_at = coalesce(used_at, 0) WHERE grant_id = ?",
                (grant_id,),
            )
            return live == 1

    async def grants(self, client_id: str | None = None) -> list[GrantSummary]:
        rows = await self._db.all(
            f"SELECT {', '.join('g.' + c for c in _GRANT.split(', '))}, c.info_json, "
            "(SELECT count(*) FROM oauth_tokens t WHERE t.grant_id = g.grant_id AND "
            "t.revoked = 0 AND t.used_at IS NULL AND t.expires_at > ?) AS live "
            "FROM oauth_grants g LEFT JOIN oauth_clients c ON c.client_id = g.client_id "
            "WHERE CAST(? AS TEXT) IS NULL OR g.client_id = ? ORDER BY g.created_at",
            (time.time(), client_id, client_id),
        )
        summaries = []
        for values in rows:
            info = json.loads(values.pop("info_json") or "{}")
            live = values.pop("live")
            summaries.append(GrantSummary(Grant(**values), info.get("client_name"), live))
        return summaries

    async def live_owners(self, owners: Collection[str]) -> set[str]:
        """Those of `owners` with a grant that is not revoked."""
        if not owners:
            return set()
        marks = ", ".join("?" * len(owners))
        rows = await self._db.all(
            "SELECT DISTINCT owner FROM oauth_grants WHERE revoked_at IS NULL AND "
            f"owner IN ({marks})",
            tuple(owners),
        )
        return {row["owner"] for row in rows}

    async def open_sign_ins(self, at: float) -> int:
        """How many sign-ins are under way (started, neither ended nor expired)."""
        row = await self._one(
            "SELECT count(*) AS open FROM oauth_sign_ins WHERE expires_at > ?", (at,)
        )
        return int(row["open"]) if row else 0

    async def forget_expired(self, at: float, unused_clients_before: str) -> int:
        """Drop what can no longer be used: ended sign-ins, spent or expired codes and tokens,
        and clients registered before `unused_clients_before` that never completed a sign-in."""
        async with self._db.transaction() as tx:
            count = await tx.execute("DELETE FROM oauth_sign_ins WHERE expires_at < ?", (at,))
            count += await tx.execute("DELETE FROM oauth_codes WHERE expires_at < ?", (at,))
            count += await tx.execute("DELETE FROM oauth_tokens WHERE expires_at < ?", (at,))
            count += await tx.execute(
                f"DELETE FROM oauth_clients WHERE registered_at < ? AND client_id IN "
                f"(SELECT client_id FROM oauth_clients c WHERE {_UNUSED})",
                (unused_clients_before,),
            )
            return count

    async def _write(self, sql: str, values: tuple[Any, ...]) -> int:
        return await self._db.execute(sql, values)

    async def _one(self, sql: str, values: tuple[Any, ...]) -> dict[str, Any] | None:
        return await self._db.one(sql, values)


async def _insert_tokens(tx: Statements, tokens: tuple[TokenRecord, ...]) -> None:
    for t in tokens:
        await tx.execute(
            f"INSERT INTO oauth_tokens ({_TOKEN}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                t.token_hash,
                t.kind,
                t.grant_id,
                t.client_id,
                json.dumps(t.scopes),
                t.resource,
                t.expires_at,
                t.used_at,
                int(t.revoked),
            ),
        )
