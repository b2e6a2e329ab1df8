"""The deployment files: HAProxy accepts its configuration, passes the client's address, finds
any number of replicas and sends requests only to those ready; the Compose file and the
Kubernetes example set only settings that exist, run two replicas on PostgreSQL with the secret
key, trust their proxy to name the client, restart what dies, ask liveness and readiness where
each is meant, and give a stopping replica the time its drain takes; Prometheus accepts the
alert rules, and each alert fires when it should (promtool). (The cluster test runs the same
HAProxy configuration in front of real replicas.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from descript_mcp.settings import ENVIRONMENT, Settings

DEPLOY = Path(__file__).parents[1] / "deploy"
SETTINGS = set(ENVIRONMENT.values())


def required(program: str, package: str) -> None:
    """Skip without `program`; CI (which requires PostgreSQL) requires it too."""
    if shutil.which(program) is None:
        if os.environ.get("DESCRIPT_MCP_REQUIRE_POSTGRES"):
            pytest.fail(f"{program} is required and not installed (apt-get install {package})")
        pytest.skip(f"{program} is not installed (apt-get install {package})")


def test_haproxy_accepts_the_configuration() -> None:
    required("haproxy", "haproxy")
    checked = subprocess.run(
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
    config = (DEPLOY / "haproxy.cfg").read_text()
    assert "stick on req.hdr(mcp-session-id)" in config
    assert "stick store-response res.hdr(mcp-session-id)" in config
    assert "option httpchk GET /ready" in config
    # Every replica the name has, not two: slots to spare, filled by DNS.
    (slots,) = re.findall(r"server-template mcp (\d+) mcp:8000 resolvers docker", config)
    assert int(slots) >= 16
    assert "default-server check" in config
    # What a stopping replica refuses is tried on another; nothing that may have run is.
    assert "retry-on conn-failure 503" in config
    assert "option forwardfor" in config  # the client's address, for the budgets per address


def test_the_compose_file_runs_two_replicas_on_postgres_behind_haproxy() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "mcp", "haproxy", "prometheus", "grafana"}
    assert {name for name, s in services.items() if "profiles" not in s} == {
        "postgres",
        "mcp",
        "haproxy",
    }
    assert all(service["restart"] == "unless-stopped" for service in services.values())
    mcp = services["mcp"]
    drain = float(mcp["environment"]["DESCRIPT_MCP_DRAIN_SECONDS"])
    assert drain < float(mcp["stop_grace_period"].removesuffix("s"))
    assert services["haproxy"]["depends_on"]["mcp"]["condition"] == "service_healthy"
    for mounted in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        assert (DEPLOY / mounted.split(":")[0]).exists(), mounted
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
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": 8000}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": 8000}
    assert service["spec"]["ports"][0]["targetPort"] == 8000
    # The pause before SIGTERM and the drain fit in the grace period.
    pause = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = float(env["DESCRIPT_MCP_DRAIN_SECONDS"]["value"])
    assert pause + drain < deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert drain == Settings().drain_seconds


def test_prometheus_accepts_the_alert_rules_and_each_alert_fires_when_it_should() -> None:
    required("promtool", "prometheus")
    for command in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yaml"],
        ["test", "rules", "alerts.test.yaml"],
    ):
        checked = subprocess.run(
            ["promtool", *command], cwd=DEPLOY / "prometheus", capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_alert_rules_name_what_each_alert_means() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yaml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    names = {rule["alert"] for rule in alerts}
    assert {
        "DescriptMcpReplicaNotReady",
        "DescriptMcpToolErrors",
        "DescriptMcpDescriptRateLimited",
        "DescriptMcpJobsWithoutOwner",
    } <= names
    hosting = (DEPLOY.parent / "docs" / "hosting.md").read_text()
    for rule in alerts:
        assert rule["annotations"]["summary"]
        assert rule["alert"] in hosting, f"docs/hosting.md says what {rule['alert']} means"
