"""Client ID Metadata Documents: a client whose id is an https URL publishes its registration
there. The document is fetched (https only, no redirects, small, quickly), checked (it names
itself, lists redirect URIs, asks for no secret) and kept for as long as its Cache-Control
allows, within bounds.

Anyone can make the server fetch a URL this way, so by default it refuses hosts that resolve
to private, loopback or link-local addresses.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
from collections import OrderedDict
from urllib.parse import urlsplit

import anyio
import httpx
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import ValidationError

from descript_mcp.client.api import shared_tls_context

logger = logging.getLogger(__name__)

MAX_DOCUMENT = 5 * 1024
FETCH_TIMEOUT = 5.0
# How long a document is kept: its max-age, within these bounds.
KEPT_AT_LEAST, KEPT_AT_MOST, KEPT_BY_DEFAULT = 60.0, 86_400.0, 3_600.0
# A document that could not be used is not asked for again for this long.
REFUSAL_KEPT = 60.0
DOCUMENTS_KEPT = 1_000
GRANT_TYPES = {"authorization_code", "refresh_token"}


def is_document_id(client_id: str) -> bool:
    try:
        parts = urlsplit(client_id)
        return parts.scheme == "https" and bool(parts.hostname) and parts.path not in ("", "/")
    except ValueError:  # e.g. an unclosed [ of an IPv6 host
        return False


class DocumentRefusedError(Exception):
    """Why a client's metadata document cannot be used (logged, never shown to others)."""


class ClientDocuments:
    def __init__(self, http: httpx.AsyncClient | None = None, *, private_hosts: bool = False):
        self._http = http or httpx.AsyncClient(
            follow_redirects=False, timeout=FETCH_TIMEOUT, verify=shared_tls_context()
        )
        self._private_hosts = private_hosts  # tests serve documents on loopback
        self._kept: OrderedDict[str, tuple[OAuthClientInformationFull | None, float]] = (
            OrderedDict()
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def client(self, client_id: str) -> OAuthClientInformationFull | None:
        kept = self._kept.get(client_id)
        if kept is not None and kept[1] > time.monotonic():
            return kept[0]
        try:
            client, keep_for = await self._fetch(client_id)
        except DocumentRefusedError as refused:
            logger.info("client metadata document %s refused: %s", client_id[:200], refused)
            client, keep_for = None, REFUSAL_KEPT
        except Exception as error:  # anyone can name any URL: whatever it does is its failing
            logger.info(
                "client metadata document %s could not be read (%s)",
                client_id[:200],
                type(error).__name__,
            )
            client, keep_for = None, REFUSAL_KEPT
        self._kept[client_id] = (client, time.monotonic() + keep_for)
        self._kept.move_to_end(client_id)
        while len(self._kept) > DOCUMENTS_KEPT:
            self._kept.popitem(last=False)
        return client

    async def _fetch(self, url: str) -> tuple[OAuthClientInformationFull, float]:
        if not is_document_id(url):
            raise DocumentRefusedError("not an https URL with a path")
        if not self._private_hosts:
            await _refuse_private(urlsplit(url).hostname or "")
        body = bytearray()
        try:
            with anyio.fail_after(FETCH_TIMEOUT):
                async with self._http.stream(
                    "GET", url, headers={"Accept": "application/json"}
                ) as response:
                    if response.status_code != 200:
                        raise DocumentRefusedError(f"answered {response.status_code}")
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > MAX_DOCUMENT:
                            raise DocumentRefusedError(f"larger than {MAX_DOCUMENT} bytes")
                    cache_control = response.headers.get("cache-control", "")
        except (httpx.HTTPError, TimeoutError) as error:
            raise DocumentRefusedError(f"could not be fetched: {type(error).__name__}") from error
        return _parse(url, bytes(body)), _keep_for(cache_control)


def _parse(url: str, body: bytes) -> OAuthClientInformationFull:
    try:
        document = json.loads(body)
    except ValueError:
        raise DocumentRefusedError("not JSON") from None
    if not isinstance(document, dict):
        raise DocumentRefusedError("not a JSON object")
    if document.get("client_id") != url:
        raise DocumentRefusedError("its client_id is not its own URL")
    if not document.get("redirect_uris"):
        raise DocumentRefusedError("it lists no redirect_uris")
    if document.get("token_endpoint_auth_method", "none") != "none":
        raise DocumentRefusedError("it asks for a client secret; documents are for public clients")
    if "client_secret" in document:
        raise DocumentRefusedError("it carries a client secret")
    grant_types = document.get("grant_types", ["authorization_code", "refresh_token"])
    if not isinstance(grant_types, list) or not set(grant_types) <= GRANT_TYPES:
        raise DocumentRefusedError("it asks for grant types other than code and refresh")
    document["token_endpoint_auth_method"] = "none"
    document["grant_types"] = grant_types
    try:
        return OAuthClientInformationFull.model_validate(document)
    except ValidationError as error:
        raise DocumentRefusedError(f"invalid: {error.errors()[0]['msg']}") from None


def _keep_for(cache_control: str) -> float:
    if "no-store" in cache_control or "no-cache" in cache_control:
        return KEPT_AT_LEAST
    found = re.search(r"max-age=(\d+)", cache_control)
    seconds = float(found.group(1)) if found else KEPT_BY_DEFAULT
    return min(max(seconds, KEPT_AT_LEAST), KEPT_AT_MOST)


async def _refuse_private(host: str) -> None:
    try:
        addresses = await anyio.getaddrinfo(host, 443)
    except OSError:
        raise DocumentRefusedError("its host does not resolve") from None
    for *_, sockaddr in addresses:
        address = ipaddress.ip_address(sockaddr[0])
        if not address.is_global:
            raise DocumentRefusedError("its host is on a private network")
