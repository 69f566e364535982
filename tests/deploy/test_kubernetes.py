"""deploy/k8s: every overlay rendered with kustomize and validated against the Kubernetes API
schemas (kubernetes-validate) and the CRD schemas of KEDA and the Prometheus Operator
(crd-schemas/, from datreeio/CRDs-catalog, MIT), then checked for what the issue asks:
hardening, probes, graceful stops, one scheduler and one indexer, autoscaling on the queues
each deployment consumes."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from documind.contracts import Queues
from tests.deploy.tools import REPO, kustomize_build

K8S = REPO / "deploy" / "k8s"
OVERLAYS = ("dev", "production")
KUBERNETES_VERSION = "1.30"  # the oldest release the manifests are written for
CRD_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobject_v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_triggerauthentication_v1alpha1.json",
    ("monitoring.coreos.com/v1", "PodMonitor"): "monitoring.coreos.com_podmonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_prometheusrule_v1.json",
}
REDIS_NAMESPACE = "documind"  # DOCUMIND_REDIS_NAMESPACE's default: Dramatiq's key prefix


@cache
def crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((Path(__file__).parent / "crd-schemas" / CRD_SCHEMAS[(api_version, kind)]).read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def validate(doc: dict) -> None:
    key = (doc["apiVersion"], doc["kind"])
    where = f"{doc['kind']}/{doc['metadata']['name']}"
    if key in CRD_SCHEMAS:
        errors = sorted(crd_validator(*key).iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            pytest.fail(f"{where}: " + "; ".join(f"{list(e.path)}: {e.message}" for e in errors[:5]))
        return
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        pytest.fail(f"{where}: no schema for {key} (add its CRD schema to crd-schemas/)")
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{where}: {exc.message} at {list(exc.path)}")


@cache
def rendered(overlay: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(kustomize_build(K8S / "overlays" / overlay)) if d]


def of_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(deployment: dict) -> dict:
    (c,) = deployment["spec"]["template"]["spec"]["containers"]
    return c


def arg_value(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def queues_of(deployment: dict) -> list[str]:
    args = container(deployment).get("args", [])
    return args[args.index("--queues") + 1 :] if "--queues" in args else []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(overlay: str) -> None:
    docs = rendered(overlay)
    assert docs
    for doc in docs:
        validate(doc)


def test_raw_manifests_validate() -> None:
    """Without kustomize too: each resource file of the base and the components, on its own."""
    files = [*sorted((K8S / "base").rglob("*.yaml")), *sorted((K8S / "components").rglob("*.yaml"))]
    files += [REPO / "deploy" / "prometheus" / "prometheusrule.yaml"]
    seen = 0
    for path in files:
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                validate(doc)
                seen += 1
    assert seen > 30


def test_the_validators_see_an_error() -> None:
    """Guard: a wrong field fails both kinds of validation."""
    docs = rendered("production")
    deployment = json.loads(json.dumps(of_kind(docs, "Deployment")["documind-embed"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(pytest.fail.Exception):
        validate(deployment)
    scaled = json.loads(json.dumps(of_kind(docs, "ScaledObject")["documind-embed"]))
    scaled["spec"]["minReplicas"] = 1
    with pytest.raises(pytest.fail.Exception):
        validate(scaled)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_hardened(overlay: str) -> None:
    docs = rendered(overlay)
    accounts = of_kind(docs, "ServiceAccount")
    pods = [(d["metadata"]["name"], d["spec"]["template"]) for d in docs if d["kind"] in ("Deployment", "Job")]
    assert len(pods) == 9
    for name, template in pods:
        spec = template["spec"]
        assert spec["serviceAccountName"] in accounts, name
        assert spec["automountServiceAccountToken"] is False, name
        sec = spec["securityContext"]
        assert sec["runAsNonRoot"] is True and sec["runAsUser"] >= 10000, name
        assert sec["seccompProfile"]["type"] == "RuntimeDefault", name
        for c in spec["containers"]:
            csec = c["securityContext"]
            assert csec["allowPrivilegeEscalation"] is False and csec["readOnlyRootFilesystem"] is True, name
            assert csec["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(c["resources"]["requests"]) and {"cpu", "memory"} <= set(c["resources"]["limits"]), name
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]), f"{name}: writable /tmp"
            assert "command" not in c, f"{name}: `command` would replace the image's tini entrypoint; use args"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workers_probe_health_and_stop_gracefully(overlay: str) -> None:
    deployments = of_kind(rendered(overlay), "Deployment")
    workers = {n: d for n, d in deployments.items() if queues_of(d)}
    assert set(workers) == {f"documind-{s}" for s in ("ingest", "embed", "search", "search-query", "validate", "maintenance")}
    for name, d in workers.items():
        c = container(d)
        assert c["startupProbe"]["httpGet"]["path"] == "/livez", name
        assert c["livenessProbe"]["httpGet"]["path"] == "/livez", name
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 9191, "health": 8080}
        shutdown_s = int(arg_value(c["args"], "--worker-shutdown-timeout")) / 1000
        assert d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > shutdown_s, name
    all_queues = sorted(q for d in workers.values() for q in queues_of(d))
    assert all_queues == sorted(Queues.ALL), "every queue consumed by exactly one deployment"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_singletons(overlay: str) -> None:
    deployments = of_kind(rendered(overlay), "Deployment")
    for name in ("documind-scheduler", "documind-search", "documind-collector"):
        assert deployments[name]["spec"]["replicas"] == 1, name
    for name in ("documind-scheduler", "documind-search"):
        assert deployments[name]["spec"]["strategy"]["type"] == "Recreate", name
    assert container(deployments["documind-scheduler"])["args"] == ["documind", "scheduler"]
    assert container(deployments["documind-collector"])["args"] == ["documind", "collector"]
    jobs = of_kind(rendered(overlay), "Job")
    assert container({"spec": jobs["documind-migrate"]["spec"]})["args"] == ["documind", "migrate"]


def _scalable(docs: list[dict]) -> set[str]:
    return {d["metadata"]["name"] for d in of_kind(docs, "Deployment").values() if "replicas" not in d["spec"]}


def test_keda_scales_each_service_on_its_own_queues() -> None:
    docs = rendered("production")
    deployments = of_kind(docs, "Deployment")
    scaled = of_kind(docs, "ScaledObject")
    assert {s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()} == _scalable(docs)
    for so in scaled.values():
        target = deployments[so["spec"]["scaleTargetRef"]["name"]]
        lists = {t["metadata"]["listName"] for t in so["spec"]["triggers"] if t["type"] == "redis"}
        expected = {f"{REDIS_NAMESPACE}:{q}{suffix}" for q in queues_of(target) for suffix in ("", ".DQ")}
        assert lists == expected, so["metadata"]["name"]
        assert any(t["type"] == "cpu" for t in so["spec"]["triggers"])
        assert so["spec"]["fallback"]["replicas"] >= so["spec"]["minReplicaCount"]
        for t in so["spec"]["triggers"]:
            if t["type"] == "redis":
                assert t["metadata"]["addressFromEnv"] == "KEDA_REDIS_ADDRESS"
                assert t["authenticationRef"]["name"] in of_kind(docs, "TriggerAuthentication")
    settings = of_kind(docs, "ConfigMap")
    assert any("KEDA_REDIS_ADDRESS" in cm.get("data", {}) for cm in settings.values())


def test_dev_uses_the_cpu_autoscaler_fallback() -> None:
    docs = rendered("dev")
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == _scalable(docs)
    assert not of_kind(docs, "ScaledObject")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_monitoring_and_network_policies(overlay: str) -> None:
    docs = rendered(overlay)
    deployments = of_kind(docs, "Deployment")
    pdbs = of_kind(docs, "PodDisruptionBudget")
    assert set(pdbs) == _scalable(docs)
    for pdb in pdbs.values():
        selector = pdb["spec"]["selector"]["matchLabels"]
        matching = [d for d in deployments.values() if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(matching) == 1, pdb["metadata"]["name"]
    (monitor,) = of_kind(docs, "PodMonitor").values()
    selector = monitor["spec"]["selector"]["matchLabels"]
    scraped = [d for d in deployments.values() if any(p["name"] == "metrics" for p in container(d).get("ports", []))]
    assert len(scraped) == 7  # six workers and the collector
    for d in scraped:
        assert selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    relabel = monitor["spec"]["podMetricsEndpoints"][0]["relabelings"][0]
    assert relabel["targetLabel"] == "documind_service"  # what the alert rules select on
    policies = of_kind(docs, "NetworkPolicy")
    deny = policies["documind-default-deny"]["spec"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny and "egress" not in deny
    assert of_kind(docs, "PrometheusRule") and of_kind(docs, "ConfigMap")


def test_dev_secret_has_every_key_the_pods_and_keda_read() -> None:
    docs = rendered("dev")
    secrets = [d for d in docs if d["kind"] == "Secret"]
    (secret,) = secrets
    assert {"DOCUMIND_DATABASE_URL", "DOCUMIND_REDIS_URL", "DOCUMIND_QDRANT_API_KEY", "REDIS_PASSWORD"} <= set(secret["data"])
    keda = yaml.safe_load_all((K8S / "components" / "keda" / "scaledobjects.yaml").read_text())
    auth = next(d for d in keda if d["kind"] == "TriggerAuthentication")
    assert auth["spec"]["secretTargetRef"][0]["key"] in secret["data"]
