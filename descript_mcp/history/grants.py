"""What the OAuth mode keeps: registered clients, sign-ins under way, grants (one person's
consent for one client, holding their Descript token sealed), authorization codes and tokens.

Codes and tokens are kept only as hashes; Descript tokens and client secrets only sealed (see
the server's vault). `grant_store.GrantStore` keeps them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

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
