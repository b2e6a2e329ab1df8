"""The API token saved by `descript-mcp config set api-key`: a file only its user can read."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

CONFIG_ENV = "DESCRIPT_MCP_CONFIG"


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
