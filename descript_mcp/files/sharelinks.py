"""Google Drive and Dropbox share links turned into direct-download links Descript can fetch.

Descript needs a URL that answers with the file itself (and Range requests); a share link
answers with a web page. The file must be shared as "Anyone with the link".
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

from descript_mcp.errors import DescriptError

_GOOGLE_HOSTS = ("drive.google.com", "docs.google.com")
_DROPBOX_HOSTS = ("dropbox.com", "www.dropbox.com")
_DRIVE_FILE = re.compile(r"^/file/d/([\w-]{10,})(?:/|$)")
_SHARED = 'Make sure it is shared as "Anyone with the link".'


class ShareLinkError(DescriptError, ValueError):
    """A share link that does not point at one file Descript could download."""


def direct_download_url(url: str) -> str:
    """The direct-download form of a Google Drive or Dropbox share link; other URLs unchanged."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in _GOOGLE_HOSTS:
        return _google_drive(url, parts.path, dict(parse_qsl(parts.query)))
    if host in _DROPBOX_HOSTS:
        return _dropbox(url, parts)
    return url


def _google_drive(url: str, path: str, query: dict[str, str]) -> str:
    file_id = None
    if match := _DRIVE_FILE.match(path):
        file_id = match[1]
    elif path in ("/open", "/uc") and query.get("id"):
        file_id = query["id"]
    if file_id is not None:
        return f"https://drive.google.com/uc?export=download&id={file_id}"
    if path.startswith("/drive/folders") or "/folders/" in path:
        raise ShareLinkError(
            f"{url} is a Google Drive folder: share the media file itself and use its link."
        )
    if path.startswith(("/document", "/spreadsheets", "/presentation", "/forms")):
        raise ShareLinkError(f"{url} is a Google Docs file, not media Descript can import.")
    raise ShareLinkError(
        f"{url} is not a Google Drive file link (expected drive.google.com/file/d/<id>/...). "
        f"Copy the link from the file's Share dialog. {_SHARED}"
    )


def _dropbox(url: str, parts: SplitResult) -> str:
    path = parts.path
    if path.startswith(("/sh/", "/scl/fo/")):
        raise ShareLinkError(f"{url} is a Dropbox folder: share the media file itself.")
    if not path.startswith(("/s/", "/scl/fi/")):
        raise ShareLinkError(
            f"{url} is not a Dropbox file link (expected dropbox.com/scl/fi/... or /s/...). "
            f"{_SHARED}"
        )
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("dl", "raw")
    ]
    query.append(("dl", "1"))
    return urlunsplit(("https", "www.dropbox.com", path, urlencode(query), ""))
