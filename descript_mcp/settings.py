"""Every setting, and its environment variable, in one place: the server's settings (from the
environment, then command-line flags, which win), and the token saved by the command line.

Layers below the server read only the names they need from here (the client its token and URL).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from descript_mcp.errors import ConfigurationError

# The names Descript's own CLI reads, and the API's address.
DEFAULT_API_URL = "https://descriptapi.com/v1"
API_KEY_ENV = "DESCRIPT_API_KEY"
API_URL_ENV = "DESCRIPT_API_URL"
ROOTS_ENV = "DESCRIPT_MCP_ROOTS"
# Where `descript-mcp config set api-key` keeps the token (a file only its user can read).
CONFIG_ENV = "DESCRIPT_MCP_CONFIG"

Transport = Literal["stdio", "sse", "http"]
# Over HTTP, who a request is: a Descript token it brings ("token"), or an access token this
# server issued after the user handed it their Descript token once ("oauth").
HttpAuth = Literal["token", "oauth"]
# Named groups of tools (server/tools/__init__.py), each declared by the module of its name
# (server/tools/catalogue.py): "default" is all but the opt-in ones.
Toolset = Literal[
    "media",
    "agent",
    "publish",
    "jobs",
    "projects",
    "files",
    "experimental",
    "uploads",
    "default",
    "all",
]

# Setting name -> environment variable. The first two are the names Descript's own CLI reads.
ENVIRONMENT: dict[str, str] = {
    "api_key": API_KEY_ENV,
    "api_url": API_URL_ENV,
    "history_path": "DESCRIPT_MCP_HISTORY",
    "database_url": "DESCRIPT_MCP_DATABASE_URL",
    "wait_seconds": "DESCRIPT_MCP_WAIT_SECONDS",
    "transport": "DESCRIPT_MCP_TRANSPORT",
    "host": "DESCRIPT_MCP_HOST",
    "port": "DESCRIPT_MCP_PORT",
    "http_token_fallback": "DESCRIPT_MCP_HTTP_TOKEN_FALLBACK",
    "log_level": "DESCRIPT_MCP_LOG_LEVEL",
    "log_format": "DESCRIPT_MCP_LOG_FORMAT",
    "metrics_port": "DESCRIPT_MCP_METRICS_PORT",
    "drain_seconds": "DESCRIPT_MCP_DRAIN_SECONDS",
    "roots": ROOTS_ENV,
    "http_local_files": "DESCRIPT_MCP_HTTP_LOCAL_FILES",
    "allowed_hosts": "DESCRIPT_MCP_ALLOWED_HOSTS",
    "callback_url": "DESCRIPT_MCP_CALLBACK_URL",
    "auth": "DESCRIPT_MCP_AUTH",
    "public_url": "DESCRIPT_MCP_PUBLIC_URL",
    "secret_key": "DESCRIPT_MCP_SECRET_KEY",
    "secret_key_file": "DESCRIPT_MCP_SECRET_KEY_FILE",
    "read_only": "DESCRIPT_MCP_READ_ONLY",
    "toolsets": "DESCRIPT_MCP_TOOLSETS",
    "max_wait_seconds": "DESCRIPT_MCP_MAX_WAIT_SECONDS",
    "trusted_proxies": "DESCRIPT_MCP_TRUSTED_PROXIES",
    "allowed_drives": "DESCRIPT_MCP_ALLOWED_DRIVES",
    "max_sessions": "DESCRIPT_MCP_MAX_SESSIONS",
    "max_save_mb": "DESCRIPT_MCP_MAX_SAVE_MB",
    "http_quota_mb": "DESCRIPT_MCP_HTTP_QUOTA_MB",
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
    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL (postgresql://…) shared by several replicas; unset: the SQLite "
        "history file",
    )
    wait_seconds: float = Field(
        default=45.0,
        ge=0,
        le=600,
        description="How long job tools wait before returning the job id (below the ~60 s "
        "after which Claude Desktop drops a call)",
    )
    max_wait_seconds: float = Field(
        default=600.0,
        ge=0,
        le=3600,
        description="The longest one call waits for a job, whatever it asks (a longer wait is "
        "cut to this, and the result says so)",
    )
    read_only: bool = Field(
        default=False,
        description="Only the tools that read: nothing is started, changed, cancelled or saved",
    )
    toolsets: tuple[Toolset, ...] = Field(
        default=("default",),
        description="The groups of tools to offer: media, agent, publish, jobs, projects, "
        "files, experimental, uploads; default (all but experimental and uploads) or all",
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
    max_save_mb: int = Field(
        default=10_240,
        ge=1,
        description="The largest file save_file writes, in MiB (default 10 GiB)",
    )
    http_quota_mb: int = Field(
        default=10_240,
        ge=1,
        description="With http_local_files: the most each user's folders may hold, in MiB "
        "(default 10 GiB)",
    )
    max_sessions: int = Field(
        default=10_000,
        ge=1,
        description="Over HTTP: the sessions held open at once over all users (each token "
        "holds at most 100; an idle one takes about 40 KiB)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="warning", description="Log level (logs go to stderr)"
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Logs as text, or as one JSON object a line with each request's id",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Over HTTP: serve Prometheus metrics at /metrics on this port, on the same "
        "address (the server's own port puts them on its listener); unset: no metrics",
    )
    drain_seconds: float = Field(
        default=20.0,
        ge=0,
        le=3600,
        description="Over HTTP, after SIGTERM: how long calls in flight may take to finish "
        "before the server exits (it stops taking new sessions and hands its jobs over at once)",
    )
    auth: HttpAuth = Field(
        default="token",
        description="Over HTTP: token (each request brings a Descript token) or oauth (the "
        "server is an OAuth authorization server: users connect once on its page)",
    )
    public_url: str | None = Field(
        default=None,
        description="With oauth: the URL clients reach this server at (https, behind TLS); "
        "the MCP endpoint is its /mcp",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="With oauth: the key that encrypts stored Descript tokens (32 bytes, "
        "base64url); default: a key file made on first start",
    )
    sandbox_media: str | None = Field(
        default=None,
        description="With --sandbox: where the built-in sandbox serves its sample media, which "
        "tools name by a sandbox: reference (set by the server, not read from the environment)",
    )
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = Field(
        default=(),
        description="Over HTTP: the proxies (addresses or CIDRs) whose X-Forwarded-For names the "
        "client; none: the address a request comes from is the client's",
    )
    allowed_drives: tuple[str, ...] = Field(
        default=(),
        description="With oauth: the ids of the only drives people may connect (a team's "
        "own); none: any drive",
    )
    secret_key_file: Path | None = Field(
        default=None,
        description="With oauth and no secret_key: the key file (default: secret.key beside "
        "the history, created readable by this user only)",
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        """Addresses or CIDRs; a CIDR's host bits are ignored (10.1.2.3/8 is 10.0.0.0/8)."""
        if not isinstance(value, list | tuple):
            return value
        networks = []
        for entry in value:
            try:
                networks.append(ip_network(str(entry).strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an address or a CIDR (like 10.0.0.0/8 or 192.0.2.7)"
                ) from None
        return tuple(networks)

    @model_validator(mode="after")
    def _metrics_over_http(self) -> Settings:
        if self.metrics_port is not None and self.transport == "stdio":
            raise ValueError(
                "metrics are served over HTTP: DESCRIPT_MCP_METRICS_PORT needs --transport http "
                "(or sse)"
            )
        return self

    @model_validator(mode="after")
    def _oauth_is_complete(self) -> Settings:
        if self.auth != "oauth":
            return self
        if self.transport != "http":
            raise ValueError("--auth oauth needs --transport http")
        if not self.public_url:
            raise ValueError(
                "--auth oauth needs --public-url: the https URL users reach this server at"
            )
        parsed = urlsplit(self.public_url)
        loopback = parsed.hostname in ("localhost", "127.0.0.1", "::1")
        if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
            raise ValueError("the public URL must be https (plain http only on loopback)")
        if parsed.query or parsed.fragment or parsed.path not in ("", "/"):
            raise ValueError("the public URL is a bare origin, like https://mcp.example.com")
        return self

    def issuer_url(self) -> str:
        """With oauth: the public URL, without a trailing slash."""
        return (self.public_url or "").rstrip("/")

    def key_file(self) -> Path:
        return self.secret_key_file or self.history_path.with_name("secret.key")

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from the environment, then `overrides` (flags) where not None."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {
            name: environ[var] for name, var in ENVIRONMENT.items() if environ.get(var)
        }
        if "roots" in values:
            values["roots"] = [p for p in values["roots"].split(os.pathsep) if p.strip()]
        for listed in ("allowed_hosts", "toolsets", "trusted_proxies", "allowed_drives"):
            if listed in values:
                values[listed] = [h.strip() for h in values[listed].split(",") if h.strip()]
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "api_key" not in values and (saved := stored_api_key(environ)):
            values["api_key"] = saved
        try:
            return cls(**values)
        except ValidationError as exc:
            problem = exc.errors()[0]
            if not problem["loc"]:  # a rule across settings: its message names them
                raise ConfigurationError(problem["msg"].removeprefix("Value error, ")) from exc
            name = str(problem["loc"][0])
            raise ConfigurationError(
                f"Invalid setting {name} ({ENVIRONMENT.get(name, name)}): "
                f"{problem['msg'].removeprefix('Value error, ')}"
            ) from exc

    def token(self) -> str | None:
        return self.api_key.get_secret_value() if self.api_key else None

    def database(self) -> str | None:
        return self.database_url.get_secret_value() if self.database_url else None

    def history_place(self) -> str:
        """Where the history is, to show: the database without its credentials, or the file."""
        url = self.database()
        if url is None:
            return str(self.history_path)
        parts = urlsplit(url)
        return f"PostgreSQL at {parts.hostname or 'a local socket'}{parts.path}"


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]).expanduser()
    home = Path.home()
    if sys.platform == "win32":
        base = Path(environ.get("APPDATA") or home / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        base = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "descript-mcp" / "config.json"


def save_api_key(token: str, environ: Mapping[str, str] | None = None) -> Path:
    path = config_path(environ)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 before a byte is written, so the token is never readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump({"api_key": token}, out)
    os.chmod(path, 0o600)
    return path


def stored_api_key(environ: Mapping[str, str] | None = None) -> str | None:
    try:
        data = json.loads(config_path(environ).read_text())
    except (OSError, ValueError):
        return None
    token = data.get("api_key") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None
