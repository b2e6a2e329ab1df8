"""When a signed upload URL stops working, read from the URL itself: a module of its own, free
of the HTTP stack, since the server reads it when answering a call that sends nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

# "Expires after 3 hours" (the spec's upload_url); Descript's answer gives no time.
UPLOAD_URL_LIFETIME = timedelta(hours=3)


def upload_url_expiry(upload_url: str, issued_at: datetime) -> datetime:
    """When a signed upload URL stops working: from its own query when it says (a V4 signature's
    date and lifetime, X-Goog-* or X-Amz-*, or a V2 signature's `Expires` epoch), else three
    hours after `issued_at`, as the spec documents."""
    query = {name.lower(): value for name, value in parse_qsl(urlsplit(upload_url).query)}
    for vendor in ("x-goog", "x-amz"):
        signed, lifetime = query.get(f"{vendor}-date"), query.get(f"{vendor}-expires")
        if signed and lifetime and lifetime.isdigit():
            try:
                start = datetime.strptime(signed, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            except ValueError:
                break
            return start + timedelta(seconds=int(lifetime))
    epoch = query.get("expires", "")
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return issued_at + UPLOAD_URL_LIFETIME
