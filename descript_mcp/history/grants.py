"""What the OAuth mode keeps: registered clients, sign-ins under way, grants (one person's
consent for one client, holding their Descript token sealed), authorization codes and tokens.

Codes and tokens are kept only as hashes; Descript tokens and client secrets only sealed (see
the server's vault). `GrantStore` is the interface the server uses, whatever keeps it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, Protocol

TokenKind = Literal["access", "refresh"]


def digest(secret: str) -> str:
    """How a code or token is stored and looked up: random 256-bit values need no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    info_json: str  # the client's registration, without its secret
    sealed_secret: bytes | None
    registered_at: str


@dataclass(frozen=True)
class SignIn:
    """An authorization request while its person is on the connect page."""

    request_id: str
    client_id: str
    params_json: str  # the SDK's AuthorizationParams
    csrf: str
    expires_at: float
    browser: str | None = None  # digest of the cookie of the browser that opened it first
    sealed_token: bytes | None = None  # the Descript token, once Descript accepted it
    owner: str | None = None
    drive_name: str | None = None


@dataclass(frozen=True)
class Grant:
    grant_id: str
    client_id: str
    owner: str
    drive_name: str | None
    sealed_token: bytes | None  # wiped on revocation
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class CodeRecord:
    code_hash: str
    grant_id: str
    client_id: str
    redirect_uri: str
    redirect_uri_explicit: bool
    code_challenge: str
    scopes: tuple[str, ...]
    resource: str
    expires_at: float
    used_at: float | None = None


@dataclass(frozen=True)
class TokenRecord:
    token_hash: str
    kind: TokenKind
    grant_id: str
    client_id: str
    scopes: tuple[str, ...]
    resource: str
    expires_at: float
    used_at: float | None = None  # a refresh token, when it was rotated
    revoked: bool = False


@dataclass(frozen=True)
class GrantSummary:
    """A grant as `descript-mcp auth list` shows it: never a secret."""

    grant: Grant
    client_name: str | None
    live_tokens: int


class GrantStore(Protocol):
    async def save_client(self, client: RegisteredClient) -> None: ...
    async def client(self, client_id: str) -> RegisteredClient | None: ...
    async def open_sign_in(self, sign_in: SignIn, at: float, at_most: int) -> bool: ...
    async def sign_in(self, request_id: str) -> SignIn | None: ...
    async def bind_browser(self, request_id: str, browser: str) -> bool: ...
    async def accept_token(
        self, request_id: str, sealed_token: bytes, owner: str, drive_name: str | None
    ) -> None: ...
    async def close_sign_in(self, request_id: str) -> bool: ...
    async def create_grant(self, grant: Grant, code: CodeRecord) -> None: ...
    async def grant(self, grant_id: str) -> Grant | None: ...
    async def code(self, code_hash: str) -> CodeRecord | None: ...
    async def use_code(self, code_hash: str, at: float) -> bool: ...
    async def issue(self, *tokens: TokenRecord) -> None: ...
    async def token(self, token_hash: str, kind: TokenKind) -> TokenRecord | None: ...
    async def rotate(self, refresh_hash: str, at: float, *tokens: TokenRecord) -> bool: ...
    async def revoke_grant(self, grant_id: str, at: str) -> bool: ...
    async def grants(self, client_id: str | None = None) -> list[GrantSummary]: ...
    async def forget_expired(self, at: float) -> int: ...
