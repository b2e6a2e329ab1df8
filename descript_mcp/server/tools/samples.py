"""`sandbox:` references: the built-in sandbox's sample media, by name. The server's
instructions name the sample so rather than by its URL, because a client may read them from
another process of this server (the MCP TypeScript client asks a short-lived one), whose
sandbox listens on another port: a reference means the same in every process."""

from __future__ import annotations

from urllib.parse import quote

from descript_mcp.errors import ConfigurationError

SCHEME = "sandbox:"


def resolved(url: str, sandbox_media: str | None) -> str:
    """`url`, or for a `sandbox:` reference the sample's URL on this process's sandbox."""
    if not url.startswith(SCHEME):
        return url
    if sandbox_media is None:
        raise ConfigurationError(
            f"{url} names a sample of the built-in sandbox, and this server is connected to "
            "Descript: give the media's own URL."
        )
    return sandbox_media + quote(url.removeprefix(SCHEME).lstrip("/"), safe="")
