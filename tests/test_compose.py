"""``docker-compose.temporal.yml``: valid Compose, and wired the way the deployment needs
(docs/operations.md).

No Docker engine is needed: the file is checked against the Compose specification's JSON schema
(the copy vendored in the ``check-jsonschema`` package), by ``docker-compose config`` when that
tool is installed, and its wiring is read with PyYAML after Compose-style interpolation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from api.core.settings import Settings
from domain import search_attributes

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.temporal.yml"
APP_SERVICES = ("api", "worker")
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?::?-([^}]*))?\}")


def interpolate(value: Any) -> Any:
    """Compose interpolation with an empty environment: ``${X:-default}`` → default, ``$$`` → $."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: "$" if m[0] == "$$" else (m[2] or ""), value)
    if isinstance(value, list):
        return [interpolate(item) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item) for key, item in value.items()}
    return value


@pytest.fixture(scope="module")
def services() -> dict[str, dict[str, Any]]:
    loaded = interpolate(yaml.safe_load(COMPOSE.read_text()))
    result: dict[str, dict[str, Any]] = loaded["services"]
    return result


def env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def test_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec"]
        + [str(COMPOSE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose not installed")
def test_docker_compose_accepts_the_file() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_it_is_the_documented_deployment(services: dict[str, dict[str, Any]]) -> None:
    assert {"postgresql", "temporal", "temporal-ui", "api", "worker"} <= services.keys()
    for name, service in services.items():
        assert "image" in service or "build" in service, name
    assert services["temporal"]["image"].startswith("temporalio/server:")
    assert services["temporal-ui"]["image"].startswith("temporalio/ui:")
    assert services["postgresql"]["image"].startswith("postgres:")
    # Temporal persists in the same PostgreSQL.
    temporal = env(services["temporal"])
    assert temporal["DB"].startswith("postgres") and temporal["POSTGRES_SEEDS"] == "postgresql"
    assert env(services["temporal-ui"])["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_api_and_worker_run_the_scheduler_against_the_compose_services(
    services: dict[str, dict[str, Any]],
) -> None:
    postgres = env(services["postgresql"])
    for name in APP_SERVICES:
        service = services[name]
        assert service["command"] == ["agent-scheduler", name]
        assert {"temporal", "postgresql"} <= set(service["depends_on"]), name

        variables = env(service)
        unknown = [
            key
            for key in variables
            if key.removeprefix("AGENT_SCHEDULER_").lower() not in Settings.model_fields
        ]
        assert not unknown, f"{name}: not settings: {unknown}"
        settings = Settings.model_validate(
            {key.removeprefix("AGENT_SCHEDULER_").lower(): v for key, v in variables.items()}
        )

        host, port = settings.temporal_address.rsplit(":", 1)
        assert host == "temporal" and port == "7233", name
        url = make_url(settings.resolved_database_url)
        assert url.get_backend_name() == "postgresql", name
        assert (url.host, url.port) == ("postgresql", 5432), name
        assert url.username == postgres["POSTGRES_USER"], name
        assert url.password == postgres["POSTGRES_PASSWORD"], name
        assert url.database == postgres["POSTGRES_DB"], name
        assert settings.task_queue == Settings.model_fields["task_queue"].default, name

    assert env(services["api"]) == env(services["worker"])


def test_the_api_port_is_published(services: dict[str, dict[str, Any]]) -> None:
    api = services["api"]
    assert env(api)["AGENT_SCHEDULER_HOST"] == "0.0.0.0"
    port = env(api)["AGENT_SCHEDULER_PORT"]
    # "HOST_PORT:CONTAINER_PORT" (short syntax), the container side being the API's port.
    assert any(str(mapping).split(":")[-1] == port for mapping in api["ports"]), api["ports"]
    assert all(":" in str(mapping) for mapping in api["ports"]), "publish a host port"


def test_setup_registers_the_search_attributes_the_scheduler_uses(
    services: dict[str, dict[str, Any]],
) -> None:
    script = " ".join(services["temporal-setup"]["command"])
    for key in search_attributes.ALL:
        assert f"--name {key.name} --type Keyword" in script


def test_prometheus_scrapes_the_metrics_ports_the_api_and_worker_serve(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus = services["prometheus"]
    assert prometheus["image"].startswith("prom/prometheus:")
    config_dir = COMPOSE.parent / "deploy" / "prometheus"
    assert f"./{config_dir.relative_to(COMPOSE.parent)}:/etc/prometheus:ro" in prometheus["volumes"]
    config = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]
    }
    settings = Settings.model_validate(
        {key.removeprefix("AGENT_SCHEDULER_").lower(): v for key, v in env(services["api"]).items()}
    )
    assert settings.metrics_host == "0.0.0.0"
    assert targets == {
        "agent-scheduler-api": f"api:{settings.metrics_port}",
        "agent-scheduler-worker": f"worker:{settings.worker_metrics_port}",
    }
    assert (config_dir / config["rule_files"][0]).exists()
