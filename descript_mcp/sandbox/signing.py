"""Signed, expiring URLs for uploads and downloads, like a cloud bucket's."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode


def signed_url(base_url: str, key: bytes, kind: str, ident: str, ttl: float) -> tuple[str, float]:
    """A URL for `/_sandbox/{kind}/{ident}` valid for `ttl` seconds, and its expiry (epoch)."""
    expires = int(time.time() + ttl)
    query = urlencode({"expires": expires, "signature": _signature(key, kind, ident, expires)})
    return f"{base_url.rstrip('/')}/_sandbox/{kind}/{ident}?{query}", float(expires)


def check_signature(key: bytes, kind: str, ident: str, expires: str, signature: str) -> str | None:
    """None when the URL is valid, else the storage-style error code."""
    try:
        expires_at = int(expires)
    except ValueError:
        return "SignatureDoesNotMatch"
    if not hmac.compare_digest(_signature(key, kind, ident, expires_at), signature):
        return "SignatureDoesNotMatch"
    if time.time() >= expires_at:
        return "ExpiredToken"
    return None


def _signature(key: bytes, kind: str, ident: str, expires: int) -> str:
    message = f"{kind}:{ident}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:40]
