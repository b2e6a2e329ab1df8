"""The deployment files: HAProxy accepts its configuration and passes the client's address, and
the Compose file and the Kubernetes example set only settings that exist, run two replicas on
PostgreSQL with the secret key, trust their proxy to name the client, and check health where
the server answers it. (The cluster test runs the same HAProxy
configuration in front of real replicas.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from descript_mcp.settings import ENVIRONMENT

DEPLOY = Path(__file__).parents[1] / "deploy"
SETTINGS = set(ENVIRONMENT.values())


def test_haproxy_accepts_the_configuration() -> None:
    if shutil.which("haproxy") is None:
        if os.environ.get("DESCRIPT_MCP_REQUIRE_POSTGRES"):
            pytest.fail("HAProxy is required and not installed (apt-get install haproxy)")
        pytest.skip("HAProxy is not installed (apt-get install haproxy)")
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert "stick on req.hdr(mcp-session-id)" in config
    assert "stick store-response res.hdr(mcp-session-id)" in config
    assert "option httpchk GET /health" in config
    assert "option forwardfor" in config  # the client's address, for the budgets per address


def test_the_compose_file_runs_two_replicas_on_postgres_behind_haproxy() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "mcp", "haproxy"}
    mcp = services["mcp"]
    assert mcp["deploy"]["replicas"] == 2
    environment = mcp["environment"]
    assert set(environment) <= SETTINGS
    assert environment["DESCRIPT_MCP_AUTH"] == "oauth"
    assert environment["DESCRIPT_MCP_DATABASE_URL"].startswith("postgresql://")
    assert {"DESCRIPT_MCP_SECRET_KEY", "DESCRIPT_MCP_PUBLIC_URL"} <= set(environment)
    assert environment["DESCRIPT_MCP_TRUSTED_PROXIES"]  # HAProxy, which names the client
    assert (DEPLOY / mcp["build"] / "Dockerfile").exists()
    assert "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro" in services["haproxy"]["volumes"]
    assert "mcp:8000" in (DEPLOY / "haproxy.cfg").read_text()


def test_the_kubernetes_example_reads_its_secrets_and_checks_health() -> None:
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "descript-mcp.yaml").read_text()))
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    service = next(d for d in documents if d["kind"] == "Service")
    assert deployment["spec"]["replicas"] == 2
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env: dict[str, Any] = {e["name"]: e for e in container["env"]}
    assert set(env) <= SETTINGS
    assert env["DESCRIPT_MCP_TRUSTED_PROXIES"]["value"]  # the Ingress, which names the client
    for secret in ("DESCRIPT_MCP_SECRET_KEY", "DESCRIPT_MCP_DATABASE_URL"):
        assert env[secret]["valueFrom"]["secretKeyRef"]["name"] == "descript-mcp"
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    assert service["spec"]["ports"][0]["targetPort"] == 8000
