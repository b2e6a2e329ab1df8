"""/authorize: where an app sends a person's browser to start a sign-in, which then goes on at
the connect page.

Anyone can send a browser here with anything in the query, so each parameter is checked and
bounded before anything is stored (a sign-in keeps them for ten minutes), and each request is
spent from the budgets of its address, its client and the server (`limits.py`).

An error is sent back to the app only when its redirect URI is on the person's own machine
(loopback, RFC 8252): anyone can register a client whose redirect URI is a site of theirs, and
sending a browser there from this server's address would make it an open redirector (RFC 9700
§4.11.2). Every other error is shown on a page of this server. Responses carry `iss` (RFC 9207).
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizationParams, AuthorizeError, construct_redirect_uri
from mcp.shared.auth import InvalidScopeError, OAuthClientInformationFull
from pydantic import AnyUrl, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from descript_mcp.history.budgets import Refusal
from descript_mcp.server.oauth import page
from descript_mcp.server.oauth.limits import address_of
from descript_mcp.server.oauth.provider import MAX_CLIENT_ID, DescriptAuthProvider, same_resource
from descript_mcp.server.oauth.registration import MAX_REDIRECT_URI, is_loopback

# Bounds of what a sign-in keeps; a real client's are far shorter.
MAX_STATE = 1_000
MAX_SCOPE = 500
MAX_PARAMETER = {
    "client_id": MAX_CLIENT_ID,
    "redirect_uri": MAX_REDIRECT_URI,
    "state": MAX_STATE,
    "scope": MAX_SCOPE,
    "resource": MAX_CLIENT_ID,
    "response_type": 20,
    "code_challenge": 43,
    "code_challenge_method": 10,
}
# S256 challenges are the base64url of a SHA-256 digest, unpadded: always 43 characters.
CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
GO_BACK = "Go back to the app and connect again."


class AuthorizeRefusedError(Exception):
    def __init__(
        self, code: str, message: str, status: int = 400, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.retry_after = code, message, status, retry_after


class AuthorizeEndpoint:
    def __init__(self, provider: DescriptAuthProvider) -> None:
        self.provider = provider

    async def handle(self, request: Request) -> Response:
        values = await _parameters(request)
        if isinstance(values, Response):
            return values
        refused = await self.provider.budgets.spend(
            time.time(), *self.provider.limits.authorize_request(address_of(request))
        )
        if refused is not None:
            self.provider.refused("rate_limited")
            return _page(_too_many(refused, "from your network"))
        client = await self.provider.get_client(values.get("client_id", ""))
        if client is None:
            return page.html(
                page.refusal(
                    "This app is not known here",
                    "It is not registered with this server, or its registration expired. "
                    + GO_BACK,
                    "invalid_request",
                ),
                400,
            )
        redirect_uri = _redirect_uri(client, values.get("redirect_uri"))
        if redirect_uri is None:
            return page.html(
                page.refusal(
                    "This app asked to return somewhere it did not register",
                    "Its redirect_uri is not one of the addresses registered for it, so the "
                    "sign-in cannot go on. " + GO_BACK,
                    "invalid_request",
                ),
                400,
            )
        state = values.get("state")
        try:
            params = self._params(client, redirect_uri, values)
            refused = await self.provider.budgets.spend(
                time.time(), *self.provider.limits.sign_in(client.client_id or "")
            )
            if refused is not None:
                self.provider.refused("rate_limited")
                raise _too_many(refused, "through this app")
            return page.redirect(await self.provider.authorize(client, params), 302)
        except AuthorizeError as error:
            refusal = AuthorizeRefusedError(
                error.error, error.error_description or error.error, status=503
            )
        except AuthorizeRefusedError as error:
            refusal = error
        if not is_loopback(redirect_uri):
            return _page(refusal)
        return page.redirect(
            construct_redirect_uri(
                redirect_uri,
                error=refusal.code,
                error_description=refusal.message,
                state=state,
                iss=self.provider.issuer,
            ),
            302,
        )

    def _params(
        self, client: OAuthClientInformationFull, redirect_uri: str, values: dict[str, str]
    ) -> AuthorizationParams:
        if values.get("response_type") != "code":
            raise AuthorizeRefusedError("unsupported_response_type", "response_type must be code.")
        challenge = values.get("code_challenge", "")
        if values.get("code_challenge_method", "S256") != "S256":
            raise AuthorizeRefusedError(
                "invalid_request", "code_challenge_method must be S256 (PKCE, RFC 7636)."
            )
        if not CHALLENGE.fullmatch(challenge):
            raise AuthorizeRefusedError(
                "invalid_request",
                "code_challenge must be the S256 challenge of a PKCE verifier: 43 characters "
                "of base64url (RFC 7636).",
            )
        resource = values.get("resource")
        if resource is not None and not same_resource(resource, self.provider.resource):
            raise AuthorizeRefusedError(
                "invalid_target", f"This server issues tokens only for {self.provider.resource}."
            )
        try:
            scopes = client.validate_scope(values.get("scope"))
        except InvalidScopeError as error:
            raise AuthorizeRefusedError("invalid_scope", error.message) from None
        return AuthorizationParams(
            state=values.get("state"),
            scopes=scopes,
            code_challenge=challenge,
            redirect_uri=AnyUrl(redirect_uri),
            redirect_uri_provided_explicitly="redirect_uri" in values,
            resource=resource,
        )


async def _parameters(request: Request) -> dict[str, str] | Response:
    """The request's parameters, each at most once and within its bound."""
    params = request.query_params if request.method == "GET" else await request.form()
    values: dict[str, str] = {}
    for name, value in params.multi_items():
        if name not in MAX_PARAMETER:
            continue  # unknown parameters are ignored (RFC 6749 §3.1)
        problem = None
        if not isinstance(value, str):
            problem = f"{name} must be text."
        elif name in values:
            problem = f"{name} was given more than once."
        elif len(value) > MAX_PARAMETER[name]:
            problem = f"{name} is longer than {MAX_PARAMETER[name]} characters."
        if problem is not None:
            return _page(AuthorizeRefusedError("invalid_request", f"{problem} {GO_BACK}"))
        values[name] = str(value)
    if not values.get("client_id"):
        return _page(AuthorizeRefusedError("invalid_request", f"client_id is missing. {GO_BACK}"))
    return values


def _redirect_uri(client: OAuthClientInformationFull, requested: str | None) -> str | None:
    """The redirect URI to use: one registered for the client, exactly, or, on loopback, with
    any port (RFC 8252 §7.3: a native app listens on whichever port is free). None if none
    matches."""
    registered = [str(uri) for uri in client.redirect_uris or []]
    if requested is None:
        return registered[0] if len(registered) == 1 else None
    try:
        uri = str(AnyUrl(requested))
    except ValidationError:
        return None
    if uri in registered:
        return uri
    loopbacks = [_but_port(r) for r in registered if is_loopback(r)]
    if is_loopback(uri) and _but_port(uri) in loopbacks:
        return uri
    return None


def _but_port(uri: str) -> tuple[str, str | None, str, str]:
    parts = urlsplit(uri)
    return parts.scheme, parts.hostname, parts.path, parts.query


def _too_many(refused: Refusal, where: str) -> AuthorizeRefusedError:
    minutes = max(1, round(refused.wait / 60))
    return AuthorizeRefusedError(
        "temporarily_unavailable",
        f"Too many sign-ins were started {where}. Try again in {minutes} minute(s).",
        status=429,
        retry_after=refused.wait,
    )


def _page(refusal: AuthorizeRefusedError) -> Response:
    headers = {"Retry-After": str(int(refusal.retry_after))} if refusal.retry_after else None
    return page.html(
        page.refusal("This sign-in cannot go on", refusal.message, refusal.code),
        refusal.status,
        headers=headers,
    )
