"""One request to Descript: auth, user agent, status → exception, and the retry loop."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx

from descript_mcp.client import observe
from descript_mcp.client.clock import ServerClock
from descript_mcp.client.retry import RetryPolicy, retry_delay
from descript_mcp.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    error_class_for,
)

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

# No real token is shorter; a shorter string is found in any text by chance.
MIN_TOKEN = 8
# Errors raised before a single byte of the request left this machine.
_NEVER_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
)


class RequestSender:
    """Sends requests through an httpx client, mapping failures to descript_mcp errors, and
    reads Descript's clock off every answer (`server_clock`)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str | None,
        retry: RetryPolicy,
        sleep: Sleep = anyio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self._http = http
        self._api_key = api_key
        self.retry = retry
        self.sleep = sleep
        self.clock = clock
        self.server_clock = ServerClock()

    def _auth_headers(self) -> dict[str, str]:
        if not self._api_key:
            raise ConfigurationError(
                "No Descript API token is configured. Create one in Descript under "
                "Settings → API Tokens and set it as DESCRIPT_API_KEY."
            )
        if not (self._api_key.isascii() and self._api_key.isprintable()):
            raise ConfigurationError(
                "The Descript API token holds characters no token has (it was mangled when "
                "copied?). Copy it again from Descript under Settings → API Tokens."
            )
        return {"Authorization": f"Bearer {self._api_key}"}

    async def send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Mapping[str, Any] | None = None,
        params: Any = None,
    ) -> httpx.Response:
        """Send with retries as the policy allows; return a 2xx response or raise an APIError."""
        # One id for the request and all its retries, so each attempt can be traced to it.
        headers = self._auth_headers() | {"X-Client-Request-Id": uuid.uuid4().hex}
        started = self.clock()
        attempt = 1
        while True:
            try:
                return await self._send_once(
                    method, path, headers=headers, json=json, params=params
                )
            except APIError as error:
                delay = retry_delay(
                    self.retry,
                    error,
                    idempotent=idempotent,
                    attempt=attempt,
                    elapsed=self.clock() - started,
                )
                if delay is None:
                    raise
                logger.info(
                    "retrying %s %s in %.2fs after %s (attempt %d)",
                    method,
                    path,
                    delay,
                    type(error).__name__,
                    attempt,
                )
                observe.waited(error, delay)
                await self.sleep(delay)
                attempt += 1

    async def _send_once(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        json: Mapping[str, Any] | None,
        params: Any,
    ) -> httpx.Response:
        sent = time.time()
        watching = observe.started(method, path)
        status: int | None = None
        try:
            response = await self._http.request(
                method, path, headers=headers, json=json, params=params
            )
            status = response.status_code
        except httpx.TransportError as exc:
            timed_out = isinstance(exc, httpx.TimeoutException)
            cls = APITimeoutError if timed_out else APIConnectionError
            what = "did not answer" if timed_out else "could not be reached for"
            raise cls(
                f"Descript {what} {method} {path} ({type(exc).__name__}).",
                method=method,
                path=path,
                may_have_reached_server=not isinstance(exc, _NEVER_SENT),
            ) from exc
        finally:
            for ended in watching:
                ended(status)
        self.server_clock.observe(response.headers.get("date"), sent=sent, received=time.time())
        response = self._without_token(response)
        logger.debug("%s %s -> %d", method, path, response.status_code)
        if response.is_success:
            return response
        raise status_error(response, method=method, path=path)

    def _without_token(self, response: httpx.Response) -> httpx.Response:
        """The answer with the token removed wherever Descript echoed it (in an error message,
        a name someone pasted it into): from here on no text can carry it further."""
        key = (self._api_key or "").encode()
        if len(key) < MIN_TOKEN or key not in response.content:  # shorter: no token, only noise
            return response
        headers = {
            name: value
            for name, value in response.headers.items()
            if name.lower() not in ("content-length", "content-encoding")
        }
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=response.content.replace(key, b"REDACTED"),
            request=response.request,
        )


def status_error(response: httpx.Response, *, method: str, path: str) -> APIStatusError:
    """The exception for an error response, carrying Descript's own `error` and `message`."""
    body: dict[str, Any] = {}
    try:
        parsed = response.json()
        if isinstance(parsed, dict):
            body = parsed
    except ValueError:
        pass
    error_code = body.get("error") if isinstance(body.get("error"), str) else None
    message = body.get("message")
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or "no message"
    details = body.get("details")
    cls = error_class_for(response.status_code, error_code, message)
    return cls(
        status_code=response.status_code,
        error_code=error_code,
        message=message,
        method=method,
        path=path,
        details=details if isinstance(details, list) else None,
        headers={k.lower(): v for k, v in response.headers.items() if _is_public_header(k)},
        body=body,
    )


def _is_public_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in ("retry-after", "content-type") or lowered.startswith("x-ratelimit-")
