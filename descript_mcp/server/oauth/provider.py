"""The authorization server behind the SDK's OAuth routes: clients (registered, or described
by a metadata document), sign-ins, codes and tokens, each kept in the grant store.

Access tokens live an hour, refresh tokens thirty days and are rotated on use: a refresh token
presented twice means it was copied, so the whole grant is revoked. Every token is bound to
this server as its resource (RFC 8707). Codes and tokens are random, opaque, stored as hashes.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl, Field

from descript_mcp.errors import SealedSecretError
from descript_mcp.history.budgets import BudgetStore
from descript_mcp.history.grant_store import GrantStore
from descript_mcp.history.grants import (
    CodeRecord,
    Grant,
    RegisteredClient,
    SignIn,
    TokenRecord,
    digest,
)
from descript_mcp.server.oauth.client_documents import ClientDocuments, is_document_id
from descript_mcp.server.oauth.limits import Limits
from descript_mcp.server.oauth.registration import check_client
from descript_mcp.server.oauth.vault import Vault
from descript_mcp.server.request_reads import read_once

ACCESS_FOR = 3_600
REFRESH_FOR = 30 * 86_400
CODE_FOR = 300
SIGN_IN_FOR = 600
CONNECT_PATH = "/connect"
# Longer client ids are not looked up: no client has one.
MAX_CLIENT_ID = 500


class GrantCode(AuthorizationCode):
    grant_id: str
    used: bool


class GrantRefresh(RefreshToken):
    grant_id: str
    spent: bool


class GrantAccess(AccessToken):
    grant_id: str
    # The grant's Descript token, sealed: what the request it was read for is served with.
    sealed_token: bytes | None = Field(default=None, repr=False, exclude=True)


def same_resource(a: str, b: str) -> bool:
    return a.rstrip("/").lower() == b.rstrip("/").lower()


class SignInEndedError(Exception):
    """The sign-in was completed, denied or expired already."""


class DescriptAuthProvider(OAuthAuthorizationServerProvider[GrantCode, GrantRefresh, GrantAccess]):
    """The SDK's provider over a `GrantStore`."""

    def __init__(
        self,
        *,
        issuer: str,
        resource: str,
        vault: Vault,
        documents: ClientDocuments,
        store: Callable[[], GrantStore],
        budgets: Callable[[], BudgetStore],
    ) -> None:
        self.issuer = issuer
        self.resource = resource
        self.vault = vault
        self.documents = documents
        self._store = store
        self._budgets = budgets
        self.limits = Limits()
        # Told when a grant is revoked here, so what it left running ends at once.
        self.grant_revoked: Callable[[], None] = lambda: None
        # Told why each refused sign-in was refused (the metrics, when on).
        self.refused: Callable[[str], None] = lambda _reason: None

    @property
    def store(self) -> GrantStore:
        return self._store()

    @property
    def budgets(self) -> BudgetStore:
        return self._budgets()

    # Clients

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if len(client_id) > MAX_CLIENT_ID:
            return None
        if is_document_id(client_id):
            return await self.documents.client(client_id)
        registered = await self.store.client(client_id)
        if registered is None:
            return None
        client = OAuthClientInformationFull.model_validate_json(registered.info_json)
        if registered.sealed_secret is not None:
            try:
                secret = self.vault.open(registered.sealed_secret, context=client_id)
            except SealedSecretError:
                return None  # sealed under a former key: the app registers again
            client = client.model_copy(update={"client_secret": secret})
        return client

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        check_client(client_info)
        client_id = client_info.client_id or ""
        secret = client_info.client_secret
        await self.store.save_client(
            RegisteredClient(
                client_id=client_id,
                info_json=client_info.model_dump_json(exclude={"client_secret"}),
                sealed_secret=self.vault.seal(secret, context=client_id) if secret else None,
                registered_at=_now_text(),
            ),
            unused_at_most=self.limits.unused_clients,
        )

    # Sign-in: /authorize hands over to the connect page

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        """Open a sign-in (its parameters checked and bounded by `authorize.py`)."""
        request_id = secrets.token_urlsafe(24)
        sign_in = SignIn(
            request_id=request_id,
            client_id=client.client_id or "",
            params_json=params.model_dump_json(),
            csrf=secrets.token_urlsafe(24),
            expires_at=time.time() + SIGN_IN_FOR,
        )
        if not await self.store.open_sign_in(sign_in, time.time(), self.limits.open_sign_ins):
            self.refused("too_many_open")
            raise AuthorizeError(
                "temporarily_unavailable",
                "Too many sign-ins are under way on this server. Try again in a few minutes.",
            )
        return f"{self.issuer}{CONNECT_PATH}/{request_id}"

    async def complete(self, sign_in: SignIn) -> str:
        """The person confirmed: the grant and its code; where to send the browser."""
        if sign_in.sealed_token is None or sign_in.owner is None:
            raise SignInEndedError("no token was accepted for this sign-in")
        if not await self.store.close_sign_in(sign_in.request_id):
            raise SignInEndedError("this sign-in was completed already")
        token = self.vault.open(sign_in.sealed_token, context=sign_in.request_id)
        params = AuthorizationParams.model_validate_json(sign_in.params_json)
        # Hex: an id is typed on the command line, where one starting with '-' is an option.
        grant_id = secrets.token_hex(16)
        code = secrets.token_urlsafe(32)
        await self.store.create_grant(
            Grant(
                grant_id=grant_id,
                client_id=sign_in.client_id,
                owner=sign_in.owner,
                drive_name=sign_in.drive_name,
                sealed_token=self.vault.seal(token, context=grant_id),
                created_at=_now_text(),
            ),
            CodeRecord(
                code_hash=digest(code),
                grant_id=grant_id,
                client_id=sign_in.client_id,
                redirect_uri=str(params.redirect_uri),
                redirect_uri_explicit=params.redirect_uri_provided_explicitly,
                code_challenge=params.code_challenge,
                scopes=tuple(params.scopes or ()),
                resource=self.resource,
                expires_at=time.time() + CODE_FOR,
            ),
        )
        return construct_redirect_uri(
            str(params.redirect_uri), code=code, state=params.state, iss=self.issuer
        )

    async def deny(self, sign_in: SignIn) -> str:
        await self.store.close_sign_in(sign_in.request_id)
        params = AuthorizationParams.model_validate_json(sign_in.params_json)
        return construct_redirect_uri(
            str(params.redirect_uri),
            error="access_denied",
            error_description="The person declined to connect their Descript account.",
            state=params.state,
            iss=self.issuer,
        )

    # Codes and tokens

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> GrantCode | None:
        record = await self.store.code(digest(authorization_code))
        if record is None or record.client_id != client.client_id:
            return None
        return GrantCode(
            code=authorization_code,
            scopes=list(record.scopes),
            expires_at=record.expires_at,
            client_id=record.client_id,
            code_challenge=record.code_challenge,
            redirect_uri=AnyUrl(record.redirect_uri),
            redirect_uri_provided_explicitly=record.redirect_uri_explicit,
            resource=record.resource,
            grant_id=record.grant_id,
            used=record.used_at is not None,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: GrantCode
    ) -> OAuthToken:
        first_use = not authorization_code.used and await self.store.use_code(
            digest(authorization_code.code), time.time()
        )
        if not first_use:
            # RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
            await self._revoke(authorization_code.grant_id)
            raise TokenError(
                "invalid_grant",
                "This authorization code was used already, so the tokens issued for it are "
                "revoked. Connect again.",
            )
        grant = await self.store.grant(authorization_code.grant_id)
        if grant is None or grant.revoked_at is not None:
            raise TokenError("invalid_grant", "This connection was revoked. Connect again.")
        access, refresh, tokens = _new_tokens(grant, authorization_code.scopes, self.resource)
        await self.store.issue(access, refresh)
        return tokens

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> GrantRefresh | None:
        record = await self.store.token(digest(refresh_token), "refresh")
        if record is None or record.revoked or record.client_id != client.client_id:
            return None
        return GrantRefresh(
            token=refresh_token,
            client_id=record.client_id,
            scopes=list(record.scopes),
            expires_at=int(record.expires_at),
            resource=record.resource,
            grant_id=record.grant_id,
            spent=record.used_at is not None,
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: GrantRefresh, scopes: list[str]
    ) -> OAuthToken:
        grant = await self.store.grant(refresh_token.grant_id)
        if grant is None or grant.revoked_at is not None:
            raise TokenError("invalid_grant", "This connection was revoked. Connect again.")
        access, refresh, tokens = _new_tokens(grant, scopes, self.resource)
        rotated = not refresh_token.spent and await self.store.rotate(
            digest(refresh_token.token), time.time(), access, refresh
        )
        if not rotated:
            await self._revoke(grant.grant_id)
            raise TokenError(
                "invalid_grant",
                "This refresh token was used already, so it may have been copied: the "
                "connection is revoked. Connect again.",
            )
        return tokens

    async def load_access_token(self, token: str) -> GrantAccess | None:
        """The live access token and its grant, asked of the store once per HTTP request (the
        gate and the SDK's bearer check both ask)."""
        hashed = digest(token)
        found = await read_once(hashed, lambda: self.store.live_access(hashed, time.time()))
        if found is None:
            return None
        record, grant = found
        return GrantAccess(
            token=token,
            client_id=record.client_id,
            scopes=list(record.scopes),
            expires_at=int(record.expires_at),
            resource=record.resource,
            subject=grant.owner,
            grant_id=grant.grant_id,
            sealed_token=grant.sealed_token,
        )

    async def revoke_token(self, token: GrantAccess | GrantRefresh) -> None:
        await self._revoke(token.grant_id)

    async def _revoke(self, grant_id: str) -> None:
        if await self.store.revoke_grant(grant_id, _now_text()):
            self.grant_revoked()

    # Serving a request

    async def connected_tokens(self) -> list[str]:
        """The Descript token of each live grant, one per owner (a restart resumes their jobs)."""
        tokens: dict[str, str] = {}
        for summary in await self.store.grants():
            grant = summary.grant
            if grant.revoked_at is None and grant.sealed_token and grant.owner not in tokens:
                try:
                    tokens[grant.owner] = self.vault.open(
                        grant.sealed_token, context=grant.grant_id
                    )
                except SealedSecretError:
                    continue  # sealed under a former key: that person connects again
        return list(tokens.values())

    async def owner_token(self, owner: str) -> str | None:
        """The Descript token of one of this owner's live grants, if any."""
        for summary in await self.store.grants():
            grant = summary.grant
            if grant.owner == owner and grant.revoked_at is None and grant.sealed_token:
                try:
                    return self.vault.open(grant.sealed_token, context=grant.grant_id)
                except SealedSecretError:
                    continue
        return None

    async def owners(self) -> set[str]:
        """The owners of live grants: whose jobs this server can follow on its own."""
        return {s.grant.owner for s in await self.store.grants() if s.grant.revoked_at is None}

    def descript_token(self, access: GrantAccess) -> str | None:
        """The Descript token a live access token, as the request's check read it, stands
        for: opened from its grant's seal, without asking the store again."""
        if not same_resource(access.resource or "", self.resource) or access.sealed_token is None:
            return None
        return self.vault.open(access.sealed_token, context=access.grant_id)


def _new_tokens(
    grant: Grant, scopes: list[str], resource: str
) -> tuple[TokenRecord, TokenRecord, OAuthToken]:
    access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    issued = time.time()

    def record(token: str, kind: str, lifetime: int) -> TokenRecord:
        return TokenRecord(
            token_hash=digest(token),
            kind="access" if kind == "access" else "refresh",
            grant_id=grant.grant_id,
            client_id=grant.client_id,
            scopes=tuple(scopes),
            resource=resource,
            expires_at=issued + lifetime,
        )

    answer = OAuthToken(
        access_token=access,
        token_type="Bearer",
        expires_in=ACCESS_FOR,
        refresh_token=refresh,
        scope=" ".join(scopes) or None,
    )
    return record(access, "access", ACCESS_FOR), record(refresh, "refresh", REFRESH_FOR), answer


def _now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
