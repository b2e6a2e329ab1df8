"""The manifests name a real entry point and only settings the server knows."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

from descript_mcp import __version__
from descript_mcp.cli.main import _parser
from descript_mcp.settings import ENVIRONMENT, Settings

ROOT = Path(__file__).resolve().parents[1]
MANIFESTS = ROOT / "manifests"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
KNOWN_VARIABLES = set(ENVIRONMENT.values())
# How each launcher runs a PyPI package's console script.
LAUNCHERS = {"uvx": [], "pipx": ["run"]}


def _load(name: str) -> dict[str, Any]:
    return json.loads((MANIFESTS / name).read_text())


def _check_command(args: list[str]) -> None:
    """`descript-mcp <args>` is a console script of this package, and its arguments parse."""
    script, *rest = args
    assert script in PROJECT["scripts"], script
    parsed = _parser().parse_args(rest)
    assert parsed.run.__name__ == "_run_serve"


@pytest.mark.parametrize(
    ("name", "servers_key"),
    [
        ("claude_desktop_config.json", "mcpServers"),
        ("vscode.mcp.json", "servers"),
        ("cursor.mcp.json", "mcpServers"),
    ],
)
def test_client_configs_launch_the_server_with_known_settings(name: str, servers_key: str) -> None:
    (server,) = _load(name)[servers_key].values()
    prefix = LAUNCHERS[server["command"]]
    assert server["args"][: len(prefix)] == prefix
    _check_command(server["args"][len(prefix) :])
    assert set(server["env"]) <= KNOWN_VARIABLES
    assert "DESCRIPT_API_KEY" in server["env"]


def test_the_registry_entry_follows_the_server_json_rules() -> None:
    """The constraints of the registry's server.json schema (2025-12-11), checked here
    because no package this project can install ships that schema."""
    entry = _load("server.json")
    assert entry["$schema"].endswith("/2025-12-11/server.schema.json")
    assert re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", entry["name"])
    assert 1 <= len(entry["description"]) <= 100
    assert entry["version"] == __version__
    assert {"url", "source"} <= set(entry["repository"])
    kinds = set()
    for package in entry["packages"]:
        assert {"registryType", "identifier", "version", "transport"} <= set(package)
        assert package["version"] == __version__
        transport = package["transport"]
        assert transport["type"] in ("stdio", "streamable-http", "sse")
        if transport["type"] != "stdio":
            assert transport["url"]
        kinds.add((package["registryType"], transport["type"]))
        variables = {v["name"] for v in package.get("environmentVariables", [])}
        assert variables <= KNOWN_VARIABLES
        for argument in package.get("packageArguments", []) + package.get("runtimeArguments", []):
            assert argument["type"] in ("positional", "named")
            assert argument["type"] == "positional" or argument["name"]
    assert kinds == {("pypi", "stdio"), ("oci", "streamable-http")}
    # The image in the token mode: each request brings a Descript token as its bearer.
    oci = next(p for p in entry["packages"] if p["registryType"] == "oci")
    (header,) = oci["transport"]["headers"]
    assert header["name"] == "Authorization"
    assert header["isSecret"] is True
    assert re.findall(r"\{(\w+)\}", header["value"]) == list(header["variables"])
    assert header["value"].startswith("Bearer ")
    # A team's own deployment, reached by URL with OAuth: its host is the one variable.
    (remote,) = entry["remotes"]
    assert remote["type"] == "streamable-http"
    assert re.findall(r"\{(\w+)\}", remote["url"]) == list(remote["variables"]) == ["host"]
    assert remote["url"].startswith("https://")
    assert remote["url"].endswith("/mcp")
    assert remote["variables"]["host"]["isRequired"] is True
    # The registry proves the PyPI package is this server's by this line of its README.
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"mcp-name: {entry['name']}" in readme
    pypi = next(p for p in entry["packages"] if p["registryType"] == "pypi")
    assert pypi["identifier"] == PROJECT["name"]
    _check_command(["descript-mcp", *(a["value"] for a in pypi["packageArguments"])])


def test_the_extension_manifest_runs_the_server_with_its_user_settings() -> None:
    manifest = _load("mcpb/manifest.json")
    assert manifest["version"] == __version__
    config = manifest["server"]["mcp_config"]
    assert config["command"] == "uv"
    args = config["args"]
    start = args.index("descript-mcp")
    filled = [
        a.replace("${user_config.wait_seconds}", "45")
        for a in args[start:]
        if a != "${user_config.roots}"
    ] + ["/tmp"]
    _check_command(filled)
    assert set(config["env"]) <= KNOWN_VARIABLES
    user = manifest["user_config"]
    assert user["api_key"]["sensitive"] is True
    assert user["roots"]["type"] == "directory"
    assert user["roots"]["multiple"] is True
    assert user["wait_seconds"]["max"] < 60
    # The bundle's choices reach the settings as the environment carries them.
    for read_only, toolsets in ((False, "default"), (True, "media, jobs")):
        chosen = {"read_only": str(read_only).lower(), "toolsets": toolsets}
        environ = {
            name: re.sub(
                r"\$\{user_config\.(\w+)\}", lambda m, chosen=chosen: chosen.get(m[1], "x"), value
            )
            for name, value in config["env"].items()
        }
        settings = Settings.load(environ)
        assert settings.read_only is read_only
        assert settings.toolsets == tuple(t.strip() for t in toolsets.split(","))
    assert user["toolsets"]["default"] == "default"


def test_the_official_validator_accepts_the_manifest_and_the_bundle_packs(
    tmp_path: Path,
) -> None:
    if shutil.which("mcpb") is None:
        if os.environ.get("DESCRIPT_MCP_REQUIRE_NODE"):
            pytest.fail("mcpb (npm @anthropic-ai/mcpb) is required and not on PATH")
        pytest.skip("mcpb (npm @anthropic-ai/mcpb) is not on PATH (.ci/run installs it)")
    subprocess.run(
        ["mcpb", "validate", str(MANIFESTS / "mcpb" / "manifest.json")],
        check=True,
        capture_output=True,
    )
    built = subprocess.run(
        [sys.executable, str(MANIFESTS / "build_mcpb.py"), str(tmp_path)],
        check=True,
        capture_output=True,
        text=True,
    )
    bundle = Path(built.stdout.strip().splitlines()[-1])
    names = zipfile.ZipFile(bundle).namelist()
    assert {"manifest.json", "pyproject.toml", "descript_mcp/__main__.py"} <= set(names)
    assert not any("__pycache__" in n for n in names)
