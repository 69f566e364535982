"""Entry point for ``documind worker SERVICE...``: Dramatiq's CLI imports ``setup`` in every
worker process; it builds one runtime and registers the services named in
``DOCUMIND_WORKER_SERVICES``. Each service also has its own ``worker:setup`` root for
per-service deployments (``dramatiq documind_ingest.worker:setup``)."""

from __future__ import annotations

import os
import sys

import dramatiq

from documind.contracts import Queues
from documind.runtime import build_runtime, register_services
from documind.settings import Settings, load_settings

# The queues each service consumes: its interactive and bulk lanes (the worker runs bulk
# messages only when no interactive one is waiting: contracts.LANE_PRIORITY).
SERVICE_QUEUES = {
    "ingest": [Queues.INGEST, Queues.INGEST_BULK],
    "embed": [Queues.EMBED, Queues.EMBED_BULK],
    "search": [Queues.SEARCH, Queues.SEARCH_QUERY, Queues.SEARCH_BULK],
    "validate": [Queues.VALIDATE],
    "maintenance": [Queues.MAINTENANCE],
}


def setup() -> dramatiq.Broker:
    names = [n for n in os.environ.get("DOCUMIND_WORKER_SERVICES", "").split(",") if n]
    runtime = build_runtime(load_settings())
    register_services(runtime, names or None)
    return runtime.broker


def dramatiq_argv(settings: Settings, services: list[str], processes: int | None, threads: int | None) -> list[str]:
    queues = [q for s in services for q in SERVICE_QUEUES.get(s, [s])]
    procs = processes or settings.worker_processes
    if "search" in services and not settings.qdrant_url and procs > 1:
        # Qdrant local mode allows one process per folder (docs/design.md, stack facts).
        procs = 1
    return [
        sys.executable, "-m", "dramatiq", "documind.worker_entry:setup",
        "--processes", str(procs),
        "--threads", str(threads or settings.worker_threads),
        "--queues", *queues,
    ]


def metrics_environment(settings: Settings) -> dict[str, str]:
    """Variables prometheus_client and Dramatiq's exporter read at import time, so they must
    be in the environment before the worker processes start (docs/design.md rule 9)."""
    if not settings.metrics_port:
        return {}
    metrics_dir = settings.metrics_dir or settings.data_dir / "prometheus"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):  # counters of a previous run would add up
        stale.unlink()
    return {
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir.resolve()),
        "dramatiq_prom_db": str(metrics_dir.resolve()),
        "dramatiq_prom_port": str(settings.metrics_port),
    }
