"""What a dynamically registered client (RFC 7591) may be: anyone can register one, so each
is small (the request at most MAX_REGISTRATION bytes, a short name, a few redirect URIs) and
can only send a browser back somewhere safe to send it.

Redirect URIs, as OAuth 2.1 and RFC 8252 allow them: https; http on a loopback address only
(an app on the person's own machine); or an app's own private-use scheme (`com.example.app:`,
`cursor:`). Schemes a browser acts on by itself (javascript:, data:, file:, …) are refused,
as are fragments and credentials in the URI.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from mcp.server.auth.provider import RegistrationError
from mcp.shared.auth import OAuthClientInformationFull

MAX_REGISTRATION = 8 * 1024
MAX_CLIENT_NAME = 100
MAX_REDIRECT_URIS = 10
MAX_REDIRECT_URI = 500
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# Schemes of the web and of the browser itself: never an app's own.
REFUSED_SCHEMES = frozenset(
    {
        "javascript",
        "data",
        "vbscript",
        "file",
        "blob",
        "filesystem",
        "about",
        "view-source",
        "ftp",
        "ws",
        "wss",
        "mailto",
        "tel",
        "sms",
        "intent",
    }
)


def check_client(client: OAuthClientInformationFull) -> None:
    """Refuse a registration that is too large or could send a browser somewhere unsafe."""
    name = client.client_name or ""
    if len(name) > MAX_CLIENT_NAME:
        raise RegistrationError(
            "invalid_client_metadata",
            f"client_name is {len(name)} characters long; at most {MAX_CLIENT_NAME} are kept",
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise RegistrationError(
            "invalid_client_metadata", "client_name contains control characters"
        )
    uris = [str(uri) for uri in client.redirect_uris or []]
    if len(uris) > MAX_REDIRECT_URIS:
        raise RegistrationError(
            "invalid_redirect_uri",
            f"{len(uris)} redirect_uris were given; at most {MAX_REDIRECT_URIS} are kept",
        )
    for uri in uris:
        check_redirect_uri(uri)


def check_redirect_uri(uri: str) -> None:
    if len(uri) > MAX_REDIRECT_URI:
        raise RegistrationError(
            "invalid_redirect_uri",
            f"a redirect URI is {len(uri)} characters long; at most {MAX_REDIRECT_URI} are kept",
        )
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    allowed = (
        scheme == "https"
        or (scheme == "http" and is_loopback(uri))
        or (scheme not in REFUSED_SCHEMES and scheme != "http")
    )
    if not scheme or not allowed or parts.fragment or "@" in parts.netloc:
        raise RegistrationError(
            "invalid_redirect_uri",
            f"{uri[:100]} is not allowed: use https, http on a loopback address "
            "(127.0.0.1, [::1]), or an app's own scheme; no fragment, no credentials",
        )


def is_loopback(uri: str) -> bool:
    """An http URI on this machine, where a native app listens (RFC 8252 §7.3)."""
    parts = urlsplit(uri)
    return parts.scheme.lower() == "http" and parts.hostname in LOOPBACK_HOSTS
