"""docker-compose.yml and .env.example, validated offline: the compose-spec schema, secrets
that fail loudly, every setting documented, graceful stops as long as the longest message,
limits and log rotation on every container, one scheduler."""

from __future__ import annotations

import re

import yaml

from documind.settings import Settings
from tests.deploy.tools import REPO, run, venv_tool

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
SPEC = yaml.safe_load(COMPOSE.read_text())
SERVICES = SPEC["services"]
WORKERS = ("ingest", "embed", "search", "search-query", "validate", "maintenance")
SECRETS = ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "QDRANT_API_KEY", "GRAFANA_ADMIN_PASSWORD")


def _seconds(duration: str) -> int:
    total = 0
    for value, unit in re.findall(r"(\d+)([hms])", duration):
        total += int(value) * {"h": 3600, "m": 60, "s": 1}[unit]
    return total


def test_compose_spec_schema() -> None:
    proc = run([venv_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_part_of_the_stack_is_there() -> None:
    expected = {"redis", "postgres", "qdrant", "migrate", *WORKERS, "scheduler", "collector",
                "redis-exporter", "postgres-exporter", "prometheus", "grafana"}
    assert expected <= set(SERVICES)
    assert SERVICES["scheduler"]["command"] == ["documind", "scheduler"]
    assert SERVICES["collector"]["command"] == ["documind", "collector"]
    assert SERVICES["migrate"]["command"] == ["documind", "migrate"]
    assert "healthcheck" in SERVICES["qdrant"]
    for single in ("scheduler", "search", "collector"):
        assert SERVICES[single]["deploy"]["replicas"] == 1


def test_workers_start_after_the_migration_and_healthy_servers() -> None:
    for name in (*WORKERS, "scheduler", "collector"):
        deps = SERVICES[name]["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully", name
        assert deps["redis"]["condition"] == "service_healthy", name


def test_required_secrets_fail_loudly_and_nothing_is_hard_coded() -> None:
    text = COMPOSE.read_text()
    for secret in SECRETS:
        uses = re.findall(r"\$\{" + secret + r"(:?[?\-]?)[^}]*\}", text)
        assert uses and all(u == ":?" for u in uses), f"{secret}: every use must be ${{{secret}:?message}}"
    assert "documind:documind@" not in text and "POSTGRES_PASSWORD: documind" not in text


def test_env_example_documents_every_setting_and_variable() -> None:
    example = ENV_EXAMPLE.read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", example, re.M))
    for secret in SECRETS:
        assert re.search(rf"^{secret}=$", example, re.M), f"{secret} must be an empty, uncommented line"
    settings = {f"DOCUMIND_{name.upper()}" for name in Settings.model_fields}
    assert sorted(settings - documented) == []
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert sorted(interpolated - documented) == []


def test_a_stop_waits_for_the_longest_message() -> None:
    limit = Settings.model_fields["message_time_limit_s"].default
    for name in ("ingest", "embed", "search", "validate", "maintenance"):
        svc = SERVICES[name]
        assert _seconds(svc["stop_grace_period"]) > limit, name
    # The image's command (or the override) lets Dramatiq wait as long.
    query = SERVICES["search-query"]
    timeout_ms = int(query["command"][query["command"].index("--worker-shutdown-timeout") + 1])
    assert _seconds(query["stop_grace_period"]) * 1000 > timeout_ms


def test_limits_log_rotation_and_hardening() -> None:
    for name, svc in SERVICES.items():
        limits = svc.get("deploy", {}).get("resources", {}).get("limits", {})
        assert "memory" in limits and "cpus" in limits, f"{name}: resource limits"
        logging = svc.get("logging", {})
        assert logging.get("options", {}).get("max-size") and logging.get("options", {}).get("max-file"), name
    for name in (*WORKERS, "scheduler", "collector", "migrate"):
        svc = SERVICES[name]
        assert svc["read_only"] is True and any(t.startswith("/tmp") for t in svc["tmpfs"]), name
        assert svc["cap_drop"] == ["ALL"], name


def test_images_come_from_the_one_dockerfile() -> None:
    for name, svc in SERVICES.items():
        if "build" in svc:
            assert svc["build"]["dockerfile"] == "deploy/docker/Dockerfile", name
            assert svc["build"]["target"] in ("ingest", "embed", "search", "validate", "maintenance")


def test_prometheus_scrapes_workers_collector_and_the_data_stores() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"documind-workers", "documind-collector", "qdrant", "redis", "postgres"} <= set(jobs)
    names = jobs["documind-workers"]["dns_sd_configs"][0]["names"]
    assert set(names) == set(WORKERS)
    targets = {t for job in jobs.values() for sc in job.get("static_configs", []) for t in sc["targets"]}
    assert {"collector:9300", "qdrant:6333", "redis-exporter:9121", "postgres-exporter:9187"} <= targets


def test_every_documind_container_builds_its_image() -> None:
    """A service naming a local image without `build` would make `up` try to pull it."""
    for name, svc in SERVICES.items():
        if str(svc.get("image", "")).startswith("documind-"):
            assert "build" in svc, name
            assert svc["image"] == f"documind-{svc['build']['target']}", name
