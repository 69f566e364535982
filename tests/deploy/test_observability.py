"""Prometheus configuration and alert rules (promtool, including the rules' unit tests), the
Kubernetes PrometheusRule kept equal to the rule file, and the Grafana dashboard: every query
names metrics that the code exports, and nothing else."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from documind.metrics import build_metrics
from tests.deploy.tools import REPO, promtool, run

PROM = REPO / "deploy" / "prometheus"
RULES = PROM / "rules" / "documind.rules.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "documind.json"

# `documind collector` (maintenance service): the names fixed for it across the project.
COLLECTOR_GAUGES = (
    "documind_queue_depth", "documind_queue_oldest_message_age_seconds", "documind_dead_letter_rows",
    "documind_documents", "documind_stuck_documents", "documind_scheduler_last_run_timestamp_seconds",
)
PROMETHEUS_BUILTINS = ("up",)
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset",
    "bool", "inf", "nan", "le",
}


def _sample_names(family_name: str, kind: str) -> set[str]:
    if kind == "counter":
        return {f"{family_name}_total", f"{family_name}_created"}
    if kind == "histogram":
        return {f"{family_name}_bucket", f"{family_name}_sum", f"{family_name}_count", f"{family_name}_created"}
    return {family_name}


def exported_names() -> set[str]:
    registry = CollectorRegistry()
    build_metrics(registry)
    names = {n for fam in registry.collect() for n in _sample_names(fam.name, fam.type)}
    # Dramatiq's Prometheus middleware creates its metrics only in a worker process: read the
    # names from its source (counters already carry _total there).
    import dramatiq.middleware.prometheus as dp

    source = Path(dp.__file__).read_text()
    for name in re.findall(r'"(dramatiq_[a-z_]+)"', source):
        if name.endswith("_milliseconds"):
            names |= _sample_names(name, "histogram")
        else:
            names.add(name)
    return names | set(COLLECTOR_GAUGES) | set(PROMETHEUS_BUILTINS)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        word = m.group(0)
        following = expr[m.end():].lstrip()
        if following.startswith("(") or word.lower() in PROMQL_WORDS:
            continue  # a function call or a keyword
        names.add(word)
    return names


def test_metric_name_extraction() -> None:
    assert metric_names('sum by (queue) (rate(documind_x_total{a="b(c)"}[5m])) / on(le) up') == {"documind_x_total", "up"}
    assert metric_names("histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))") == {"x_bucket"}


def dashboard_queries() -> list[tuple[str, str]]:
    dash = json.loads(DASHBOARD.read_text())
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert len(panels) >= 15
    return [(p["title"], t["expr"]) for p in panels for t in p["targets"]]


def test_every_dashboard_query_names_exported_metrics() -> None:
    exported = exported_names()
    for title, expr in dashboard_queries():
        names = metric_names(expr)
        assert names, f"{title!r}: {expr} names no metric"
        if not names - set(PROMETHEUS_BUILTINS):  # `up` of DocuMind's own targets only
            assert "documind_service" in expr, f"{title!r}: {expr} is not about DocuMind"
        unknown = names - exported
        assert not unknown, f"{title!r}: {sorted(unknown)} not exported by the code"


def test_the_dashboard_covers_what_an_operator_watches() -> None:
    used = {n for _, expr in dashboard_queries() for n in metric_names(expr)}
    for needed in (
        "documind_queue_depth", "documind_documents_finished_total", "documind_stage_seconds_bucket",
        "documind_time_to_searchable_seconds_bucket", "dramatiq_message_errors_total", "documind_dead_letter_rows",
        "documind_stuck_documents", "documind_search_query_seconds_bucket", "documind_search_cache_hits_total",
    ):
        assert needed in used, needed


def test_a_wrong_metric_name_is_caught() -> None:
    assert metric_names("rate(documind_documents_finshed_total[5m])") - exported_names()


def rule_groups() -> list[dict]:
    return yaml.safe_load(RULES.read_text())["groups"]


def test_alert_rules_name_exported_metrics_and_cover_the_failures() -> None:
    exported = exported_names()
    alerts = {r["alert"]: r for g in rule_groups() for r in g["rules"]}
    for name, rule in alerts.items():
        unknown = metric_names(rule["expr"]) - exported
        assert not unknown, f"{name}: {sorted(unknown)}"
    for needed in ("DocumindBacklogGrowing", "DocumindInteractiveMessageTooOld", "DocumindDeadLettersGrowing",
                   "DocumindStuckDocuments", "DocumindSchedulerNotRunning"):
        assert needed in alerts
    absent = [r for r in alerts.values() if r["expr"].startswith("absent(")]
    services = {r["labels"]["documind_service"] for r in absent}
    assert services == {"ingest", "embed", "search", "search-query", "validate", "maintenance", "collector"}


def test_prometheusrule_equals_the_rule_file() -> None:
    crd = yaml.safe_load((PROM / "prometheusrule.yaml").read_text())
    assert crd["spec"]["groups"] == rule_groups()


def test_promtool_checks_config_and_rules() -> None:
    tool = promtool()
    proc = run([tool, "check", "config", "--syntax-only", str(PROM / "prometheus.yml")])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run([tool, "check", "rules", str(RULES)])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_rule_unit_tests() -> None:
    proc = run([promtool(), "test", "rules", str(PROM / "tests" / "documind.test.yml")])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", sorted((REPO / "deploy" / "grafana" / "provisioning").rglob("*.yml")))
def test_grafana_provisioning_points_at_the_dashboard(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    assert doc["apiVersion"] == 1
    if "datasources" in doc:
        uids = {d["uid"] for d in doc["datasources"]}
        dash = json.loads(DASHBOARD.read_text())
        used = {t["datasource"]["uid"] for p in dash["panels"] if p["type"] != "row" for t in p["targets"]}
        assert used <= uids
