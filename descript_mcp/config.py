"""Server settings, from environment variables and command-line flags (flags win)."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from descript_mcp._env import API_KEY_ENV, API_URL_ENV, DEFAULT_API_URL
from descript_mcp.credentials import stored_api_key
from descript_mcp.errors import ConfigurationError
from descript_mcp.files.roots import ROOTS_ENV

Transport = Literal["stdio", "sse", "http"]

# Setting name -> environment variable. The first two are the names Descript's own CLI reads.
ENVIRONMENT: dict[str, str] = {
    "api_key": API_KEY_ENV,
    "api_url": API_URL_ENV,
    "history_path": "DESCRIPT_MCP_HISTORY",
    "wait_seconds": "DESCRIPT_MCP_WAIT_SECONDS",
    "transport": "DESCRIPT_MCP_TRANSPORT",
    "host": "DESCRIPT_MCP_HOST",
    "port": "DESCRIPT_MCP_PORT",
    "http_token_fallback": "DESCRIPT_MCP_HTTP_TOKEN_FALLBACK",
    "log_level": "DESCRIPT_MCP_LOG_LEVEL",
    "roots": ROOTS_ENV,
    "http_local_files": "DESCRIPT_MCP_HTTP_LOCAL_FILES",
    "allowed_hosts": "DESCRIPT_MCP_ALLOWED_HOSTS",
    "callback_url": "DESCRIPT_MCP_CALLBACK_URL",
}


def default_history_path() -> Path:
    """The job history file in the user's state directory, per platform convention."""
    home = Path.home()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_STATE_HOME") or home / ".local" / "state")
    return base / "descript-mcp" / "history.sqlite3"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    api_key: SecretStr | None = Field(
        default=None, description="Descript API token (Descript → Settings → API Tokens)"
    )
    api_url: str = Field(default=DEFAULT_API_URL, description="Descript API base URL")
    history_path: Path = Field(
        default_factory=default_history_path, description="SQLite file of the job history"
    )
    wait_seconds: float = Field(
        default=45.0,
        ge=0,
        le=600,
        description="How long job tools wait before returning the job id (below the ~60 s "
        "after which Claude Desktop drops a call)",
    )
    transport: Transport = Field(default="stdio", description="stdio, sse or http")
    host: str = Field(default="127.0.0.1", description="Address the HTTP transports bind")
    port: int = Field(default=8000, ge=0, le=65535, description="Port of the HTTP transports")
    allowed_hosts: tuple[str, ...] = Field(
        default=(),
        description="Host names (host or host:port) HTTP clients may use besides loopback "
        "names, e.g. the published host of a container",
    )
    callback_url: str | None = Field(
        default=None,
        description="Over HTTP: the public base URL at which Descript can reach this server, "
        "to tell it when jobs end (callbacks are confirmed with Descript before use)",
    )
    http_token_fallback: bool = Field(
        default=False,
        description="Over HTTP, use DESCRIPT_API_KEY for requests that bring no token of their own",
    )
    roots: tuple[Path, ...] = Field(
        default=(),
        description="Folders whose files may be uploaded and where files may be saved; none: "
        "no local file access",
    )
    http_local_files: bool = Field(
        default=False,
        description="Over HTTP, allow local files too, each user in a folder of their own under "
        "each root (off: HTTP callers are not on this computer)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="warning", description="Log level (logs go to stderr)"
    )

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment, then `overrides` (flags) where not None."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            name: environ[var] for name, var in ENVIRONMENT.items() if environ.get(var)
        }
        if "roots" in values:
            values["roots"] = [p for p in values["roots"].split(os.pathsep) if p.strip()]
        if "allowed_hosts" in values:
            values["allowed_hosts"] = [
                h.strip() for h in values["allowed_hosts"].split(",") if h.strip()
            ]
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "api_key" not in values and (saved := stored_api_key(environ)):
            values["api_key"] = saved
        try:
            return cls(**values)
        except ValidationError as exc:
            problem = exc.errors()[0]
            name = str(problem["loc"][0])
            raise ConfigurationError(
                f"Invalid setting {name} ({ENVIRONMENT.get(name, name)}): {problem['msg']}"
            ) from exc

    def token(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key else None
