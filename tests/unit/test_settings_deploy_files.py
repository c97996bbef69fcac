"""The deployment files under deploy/ (docs/deploy.md), checked offline: each parses, the
probes they name are the app's, ports and settings match what the gateway reads, and the
grace periods cover the gateway's own shutdown. Nothing here runs Docker or Kubernetes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from relaygate.cli import SETTLE_SECONDS
from relaygate.settings import Settings, load_settings
from relaygate.web.probes import router as probes_router
from relaygate.web.proxies import trusted_proxies

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DEFAULTS = Settings()
PROBES = {getattr(route, "path", "") for route in probes_router.routes}
_DEFAULTED = re.compile(r"\$\{[A-Z_]+:-([^}]*)\}")  # compose's ${VAR:-default}


def _yaml(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d is not None]


def _k8s(kind: str) -> dict[str, Any]:
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in _yaml(f"k8s/{path.name}"):
            if document["kind"] == kind:
                return document
    raise AssertionError(f"no {kind} in deploy/k8s")


def _shutdown_budget(grace: int) -> float:
    """Seconds a SIGTERM may take: the grace, the settle, the background responses'
    and the webhooks' own grace (build.py's teardown)."""
    return (
        grace
        + SETTLE_SECONDS
        + DEFAULTS.responses_background_grace
        + DEFAULTS.webhook_shutdown_grace
    )


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings a replica with this environment would run with (every name a field)."""
    for name, value in env.items():
        assert name.startswith("RELAYGATE_"), name
        assert name.removeprefix("RELAYGATE_").lower() in Settings.model_fields, name
        monkeypatch.setenv(name, _DEFAULTED.sub(r"\1", str(value)))
    settings = load_settings()
    trusted_proxies(settings)  # the proxies' CIDRs parse
    return settings


def test_every_kubernetes_manifest_is_well_formed() -> None:
    paths = sorted((DEPLOY / "k8s").glob("*.yaml"))
    assert {p.name for p in paths} >= {"deployment.yaml", "service.yaml", "configmap.yaml"}
    for path in paths:
        for document in _yaml(f"k8s/{path.name}"):
            assert {"apiVersion", "kind", "metadata"} <= set(document), path
            assert document["metadata"]["name"] == "relaygate", path


def test_the_deployment_probes_ports_and_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    pod = _k8s("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert {"/readyz", "/livez"} <= PROBES
    config = _k8s("ConfigMap")["data"]
    secret = _k8s("Secret")["stringData"]
    settings = _settings_from({**config, **secret}, monkeypatch)
    assert container["ports"][0]["containerPort"] == settings.port == DEFAULTS.port
    assert settings.kv_url.startswith("redis://") and settings.database_url.startswith(
        "postgresql://"
    )
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    budget = int(pre_stop[1]) + _shutdown_budget(settings.shutdown_grace_seconds)
    assert pod["terminationGracePeriodSeconds"] >= budget
    service = _k8s("Service")["spec"]
    assert service["ports"][0]["targetPort"] == container["ports"][0]["name"]


def test_the_compose_file(monkeypatch: pytest.MonkeyPatch) -> None:
    (compose,) = _yaml("compose.yaml")
    services = compose["services"]
    assert {"relaygate", "postgres", "redis", "nginx"} <= set(services)
    gateway = services["relaygate"]
    assert gateway["deploy"]["replicas"] >= 2
    assert gateway["build"]["dockerfile"] == "deploy/Dockerfile"
    assert any("/readyz" in part for part in gateway["healthcheck"]["test"])
    settings = _settings_from(gateway["environment"], monkeypatch)
    assert settings.kv_url == "redis://redis:6379/0"
    assert (
        settings.database_url.startswith("postgresql://")
        and "@postgres:5432/" in settings.database_url
    )
    assert settings.client_ip_header == "x-real-ip"  # what nginx.conf sets
    grace = float(gateway["stop_grace_period"].removesuffix("s"))
    assert grace >= _shutdown_budget(settings.shutdown_grace_seconds)
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert f"{settings.port}" in gateway["expose"][0]


def _nginx() -> str:
    text = (DEPLOY / "nginx.conf").read_text()
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def test_nginx_keeps_streams_unbuffered_and_open() -> None:
    conf = _nginx()
    assert conf.count("{") == conf.count("}")
    directives = {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"^\s*([a-z_]+)\s+([^;{]*);", conf, re.M)
    }
    assert directives["proxy_buffering"] == "off"
    assert directives["proxy_http_version"] == "1.1"
    read_timeout = int(directives["proxy_read_timeout"].removesuffix("s"))
    assert read_timeout > DEFAULTS.upstream_read_timeout  # the gateway times out first
    assert 0 < DEFAULTS.stream_keepalive_interval < min(read_timeout, 100)  # Cloudflare: 100 s
    assert f"server relaygate:{DEFAULTS.port}" in conf
    assert "proxy_set_header X-Real-IP $remote_addr;" in conf  # overwritten, never passed on


def test_the_dockerfile() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    assert "pip install --require-hashes --no-deps -r requirements.lock" in text
    assert "npm ci --ignore-scripts" in text
    user = re.search(r"^USER (\S+)", text, re.M)
    assert user is not None and user.group(1) not in ("root", "0")
    healthcheck = text[text.index("HEALTHCHECK") :].split("\n\n")[0]
    assert "/livez" in healthcheck and "/livez" in PROBES
    assert f"EXPOSE {DEFAULTS.port}" in text
    assert 'CMD ["relaygate", "serve"]' in text
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text()
    assert "node_modules" in ignore and "!src/" in ignore
