"""The authorization server's routes, in front of the SDK's: /authorize (`authorize.py`), and
/register, /token and /revoke, which add to the SDK's handlers what an open server needs.

- /register spends the budgets of its address and of the server first, and takes at most
  MAX_REGISTRATION bytes; the provider checks what the client asks for (`registration.py`).
- /token refuses a PKCE verifier that is not 43 to 128 unreserved characters (RFC 7636 §4.1)
  and a `resource` other than this server's (`invalid_target`, RFC 8707), then hands over.
- /revoke is RFC 7009's: a public client revokes with its `client_id` alone.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, request_response

from descript_mcp.server.oauth.authorize import AuthorizeEndpoint
from descript_mcp.server.oauth.limits import address_of
from descript_mcp.server.oauth.provider import DescriptAuthProvider, same_resource
from descript_mcp.server.oauth.registration import MAX_REGISTRATION

# Forms of /authorize, /token and /revoke are small: a larger body is refused unread.
MAX_FORM = 16 * 1024
VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")
MAX_TOKEN = 512
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def routes(provider: DescriptAuthProvider) -> list[Route]:
    """Routes that take the place of the SDK's of the same paths (put them first)."""
    authenticator = ClientAuthenticator(provider)
    registration = RegistrationHandler(provider, ClientRegistrationOptions(enabled=True))
    token = TokenHandler(provider, authenticator)

    async def register(request: Request) -> Response:
        refused = await provider.budgets.spend(
            time.time(), *provider.limits.registration(address_of(request))
        )
        if refused is not None:
            minutes = max(1, round(refused.wait / 60))
            return _error(
                "temporarily_unavailable",
                f"Too many clients were registered from here. Try again in {minutes} minute(s).",
                429,
                {"Retry-After": str(int(refused.wait))},
            )
        return await registration.handle(request)

    async def exchange(request: Request) -> Response:
        form = await request.form()
        verifier = form.get("code_verifier")
        if form.get("grant_type") == "authorization_code" and not (
            isinstance(verifier, str) and VERIFIER.fullmatch(verifier)
        ):
            return _error(
                "invalid_request",
                "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9 and -._~ (RFC 7636).",
            )
        resource = form.get("resource")
        if resource is not None and not (
            isinstance(resource, str) and same_resource(resource, provider.resource)
        ):
            return _error(
                "invalid_target", f"This server issues tokens only for {provider.resource}."
            )
        answer: Response = await token.handle(request)  # the SDK types it not
        return answer

    async def revoke(request: Request) -> Response:
        form = await request.form()
        try:
            client = await authenticator.authenticate_request(request)
        except AuthenticationError as error:
            return _error("invalid_client", error.message, 401)
        value, hint = form.get("token"), form.get("token_type_hint")
        if not isinstance(value, str) or not 0 < len(value) <= MAX_TOKEN:
            return _error("invalid_request", "Send the token to revoke as `token`.")
        loaders: list[Callable[[str], Awaitable[Any]]] = [
            provider.load_access_token,
            lambda refresh: provider.load_refresh_token(client, refresh),
        ]
        if hint == "refresh_token":
            loaders.reverse()
        for load in loaders:
            found = await load(value)
            if found is not None:
                # Another client's token is left alone, and it is not said whose it is.
                if found.client_id == client.client_id:
                    await provider.revoke_token(found)
                break
        return Response(status_code=200, headers=NO_STORE)

    authorize = AuthorizeEndpoint(provider)
    return [
        Route("/authorize", _bounded(authorize.handle, MAX_FORM), methods=["GET", "POST"]),
        Route("/register", _open(register, MAX_REGISTRATION), methods=["POST", "OPTIONS"]),
        Route("/token", _open(exchange, MAX_FORM), methods=["POST", "OPTIONS"]),
        Route("/revoke", _open(revoke, MAX_FORM), methods=["POST", "OPTIONS"]),
    ]


def _bounded(handler: Callable[[Request], Awaitable[Response]], limit: int) -> Any:
    return RequestBodyLimitMiddleware(request_response(handler), limit)


def _open(handler: Callable[[Request], Awaitable[Response]], limit: int) -> Any:
    """Callable from a web page too (as the MCP Inspector is), like the SDK's routes."""
    return CORSMiddleware(
        _bounded(handler, limit),
        allow_origins=["*"],
        allow_methods=["POST", "OPTIONS"],
        allow_headers=[MCP_PROTOCOL_VERSION_HEADER],
    )


def _error(
    code: str, description: str, status: int = 400, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": code, "error_description": description},
        status_code=status,
        headers=NO_STORE | (headers or {}),
    )
