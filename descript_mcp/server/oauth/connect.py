"""The connect page, where /authorize sends the browser: the person gives their Descript token,
sees the drive it belongs to, and allows or denies the app.

A sign-in is bound to the first browser that opens it (a cookie), and each form carries the
sign-in's CSRF token. Each token tried is spent from the budgets (`limits.py`) of the sign-in,
the address, the client and the server before Descript is asked about it. With an allow-list
of drives, a token of any other drive is refused.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizationParams
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from descript_mcp.client.models import DriveStatus
from descript_mcp.history.budgets import Refusal
from descript_mcp.history.grants import SignIn, digest
from descript_mcp.history.records import owner_of
from descript_mcp.server.oauth import page
from descript_mcp.server.oauth.client_documents import is_document_id
from descript_mcp.server.oauth.limits import address_of
from descript_mcp.server.oauth.provider import DescriptAuthProvider, SignInEndedError

logger = logging.getLogger(__name__)

CheckToken = Callable[[str], Awaitable["DriveStatus | str"]]
COOKIE = "descript_mcp_sign_in"
MAX_TOKEN = 512

ENDED = page.notice(
    "This sign-in has ended",
    "It expired, or was completed or denied already. Go back to your app and connect again.",
)


class ConnectPage:
    def __init__(
        self,
        provider: DescriptAuthProvider,
        check_token: CheckToken,
        allowed_drives: Collection[str] = (),
    ) -> None:
        self.provider = provider
        self.check_token = check_token
        self.allowed_drives = frozenset(allowed_drives)
        self.secure_cookie = provider.issuer.startswith("https://")

    async def handle(self, request: Request) -> Response:
        request_id = str(request.path_params["request_id"])
        sign_in = await self.provider.store.sign_in(request_id)
        if sign_in is None or sign_in.expires_at < time.time():
            return _html(ENDED, 404)
        params = AuthorizationParams.model_validate_json(sign_in.params_json)
        if request.method == "GET":
            return await self._show(request, sign_in, params)
        return await self._answer(request, sign_in, params)

    async def _show(
        self, request: Request, sign_in: SignIn, params: AuthorizationParams
    ) -> Response:
        cookie = None
        if sign_in.browser is None:
            cookie = secrets.token_urlsafe(24)
            if not await self.provider.store.bind_browser(sign_in.request_id, digest(cookie)):
                return _other_browser()
        elif not self._same_browser(request, sign_in):
            return _other_browser()
        asker = await self._asker(sign_in, params)
        if sign_in.sealed_token is not None:
            body = page.confirm_form(asker, sign_in.csrf, sign_in.drive_name)
        else:
            body = page.token_form(asker, sign_in.csrf)
        response = _html(body, 200, params)
        if cookie is not None:
            response.set_cookie(
                COOKIE,
                cookie,
                max_age=int(sign_in.expires_at - time.time()),
                path=f"{urlsplit(str(request.url)).path}",
                secure=self.secure_cookie,
                httponly=True,
                samesite="strict",
            )
        return response

    async def _answer(
        self, request: Request, sign_in: SignIn, params: AuthorizationParams
    ) -> Response:
        form = await request.form()
        csrf = form.get("csrf")
        if not self._same_browser(request, sign_in) or not (
            isinstance(csrf, str) and hmac.compare_digest(csrf.encode(), sign_in.csrf.encode())
        ):
            return _html(
                page.notice(
                    "This form could not be checked",
                    "It did not come from this page in this browser. Go back to your app and "
                    "connect again.",
                ),
                403,
            )
        action = form.get("action")
        if action == "deny":
            return page.redirect(await self.provider.deny(sign_in))
        if action == "confirm":
            try:
                return page.redirect(await self.provider.complete(sign_in))
            except SignInEndedError:
                return _html(ENDED, 404)
        token = form.get("token")
        return await self._check(request, sign_in, params, token if isinstance(token, str) else "")

    async def _check(
        self, request: Request, sign_in: SignIn, params: AuthorizationParams, token: str
    ) -> Response:
        asker = await self._asker(sign_in, params)
        limits = self.provider.limits
        spends = limits.token_check(sign_in.request_id, address_of(request), sign_in.client_id)
        refused = await self.provider.budgets.spend(time.time(), *spends)
        if refused is not None:
            self.provider.refused("rate_limited")
            error = _too_many(refused, refused.budget == limits.checks_per_sign_in)
            headers = {"Retry-After": str(int(refused.wait))}
            return _html(page.token_form(asker, sign_in.csrf, error), 429, params, headers)
        token = token.strip()
        plausible = 0 < len(token) <= MAX_TOKEN and token.isascii() and token.isprintable()
        verdict = await self.check_token(token) if plausible else "invalid"
        if verdict == "unreachable":
            error = "Descript could not be reached to check the token. Try again in a minute."
            return _html(page.token_form(asker, sign_in.csrf, error), 503, params)
        if not isinstance(verdict, DriveStatus):
            self.provider.refused("token_rejected")
            logger.info("a token was refused on the connect page of %s", sign_in.client_id)
            error = (
                "Descript did not accept this token. Copy it again from Descript "
                "(Settings → API tokens), or create a new one."
            )
            return _html(page.token_form(asker, sign_in.csrf, error), 400, params)
        if self.allowed_drives and verdict.drive_id not in self.allowed_drives:
            self.provider.refused("drive_not_allowed")
            drive = f"the drive “{verdict.drive_name}”" if verdict.drive_name else "its drive"
            error = (
                f"This token belongs to {drive}, which this server does not connect: it serves "
                "only its team's own drives. Use a token made in one of those (Descript → "
                "Settings → API tokens), or ask whoever runs this server."
            )
            return _html(page.token_form(asker, sign_in.csrf, error), 403, params)
        sealed = self.provider.vault.seal(token, context=sign_in.request_id)
        await self.provider.store.accept_token(
            sign_in.request_id, sealed, owner_of(token), verdict.drive_name
        )
        return _html(page.confirm_form(asker, sign_in.csrf, verdict.drive_name), 200, params)

    def _same_browser(self, request: Request, sign_in: SignIn) -> bool:
        cookie = request.cookies.get(COOKIE, "")
        return sign_in.browser is not None and hmac.compare_digest(
            digest(cookie).encode(), sign_in.browser.encode()
        )

    async def _asker(self, sign_in: SignIn, params: AuthorizationParams) -> page.Asker:
        client = await self.provider.get_client(sign_in.client_id)
        name = (client.client_name if client else None) or "An unnamed app"
        documented = is_document_id(sign_in.client_id)
        return page.Asker(
            client_name=name[:100],
            client_host=urlsplit(sign_in.client_id).hostname if documented else None,
            redirect_host=_where(str(params.redirect_uri)),
        )


def _where(uri: str) -> str:
    parts = urlsplit(uri)
    return parts.netloc or f"{parts.scheme}:"


def _other_browser() -> Response:
    return _html(
        page.notice(
            "This sign-in is open in another browser",
            "Finish it there, or go back to your app and connect again.",
        ),
        403,
    )


def _too_many(refused: Refusal, own_sign_in: bool) -> str:
    if own_sign_in:
        return (
            "Too many tokens were tried in this sign-in. Go back to your app and connect again "
            "to start a new one."
        )
    minutes = max(1, round(refused.wait / 60))
    return f"Too many tokens are being tried here. Try again in {minutes} minute(s)."


def _html(
    body: str,
    status: int,
    params: AuthorizationParams | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    # The form posts here, then the answer redirects to the app: both must be allowed.
    redirect_uri = str(params.redirect_uri) if params is not None else None
    return page.html(body, status, redirect_uri, headers)
