"""The composition root's building blocks: one :class:`Runtime` holds what every service's
actors need (settings, database, status store, storage, broker, bus, metrics). Services add
their own dependencies (models, Qdrant) in their ``register`` functions.

Services are discovered through the ``documind.services`` entry-point group, so this package
never imports a service (and a service never imports another)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Callable, TypeVar

import dramatiq
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from documind.broker import build_broker, build_middleware, build_pending_work, build_results_backend
from documind.bus import Bus
from documind.db.engine import SessionFactory, build_engine, build_session_factory
from documind.db.migrate import check_current, upgrade
from documind.index_versions import IndexVersions, build_index_versions
from documind.logging import configure_logging, get_logger
from documind.metrics import Metrics, build_metrics
from documind.pending import PendingWork
from documind.settings import RunMode, Settings
from documind.status import StatusStore
from documind.storage import FileStorage, LocalStorage

SERVICE_GROUP = "documind.services"
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "DO_NOT_TRACK": "true",
    # Model loading draws progress bars on stderr; workers log JSON there instead.
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TOKENIZERS_PARALLELISM": "false",
    "UNSTRUCTURED_DISABLE_NOTICE": "1",
}

Register = Callable[["Runtime"], None]
T = TypeVar("T")


def enforce_offline() -> None:
    """Nothing may download models or data at run time, and unstructured must not phone home."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: SessionFactory
    status: StatusStore
    storage: FileStorage
    broker: dramatiq.Broker
    bus: Bus
    metrics: Metrics
    versions: IndexVersions
    pending: PendingWork  # which documents still have a message in the broker (the watchdog's)
    closers: list[Callable[[], None]] = field(default_factory=list)
    _resources: dict[str, object] = field(default_factory=dict)
    _resource_lock: threading.Lock = field(default_factory=threading.Lock)

    def resource(self, key: str, factory: Callable[[], T]) -> T:
        """One instance per runtime of a costly dependency (the embedding model, a Qdrant
        client), shared by the services that run in this process."""
        with self._resource_lock:
            if key not in self._resources:
                self._resources[key] = factory()
            return self._resources[key]  # type: ignore[return-value]

    def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:  # noqa: BLE001 - closing must go on
                get_logger().warning("closer failed", closer=repr(closer))
        self.closers.clear()
        self.broker.close()
        self.engine.dispose()


class StartupError(RuntimeError):
    """The runtime could not be built (database, broker, results backend unreachable or
    misconfigured): the cause's type and first line, secrets masked."""


def build_runtime(
    settings: Settings, *, migrate: bool | None = None, configure_logs: bool = True, local_server: Any = None,
) -> Runtime:
    """Everything the actors need. ``migrate`` defaults to the embedded mode only: there one
    process owns the SQLite file; distributed processes only check the schema is current.
    Any failure is a StartupError whose message never holds a secret (it reaches CLI error
    lines and worker logs). With ``local_server`` (a ``documind.local_server.LocalClient``), messages
    and index-version bumps go to that running embedded process instead of this one's broker."""
    try:
        return _build_runtime(settings, migrate, configure_logs, local_server)
    except Exception as exc:  # noqa: BLE001 - drivers echo URL pieces (passwords) in any error type
        raise StartupError(settings.redact(describe_error(exc))) from None


def describe_error(exc: BaseException) -> str:
    """``Type: first line of the message`` (drivers add lines of background and links)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _build_runtime(settings: Settings, migrate: bool | None, configure_logs: bool, local_server: Any) -> Runtime:
    enforce_offline()
    if configure_logs:
        configure_logging(settings.log_level, settings.log_json)
    url = settings.effective_database_url
    if migrate is None:
        migrate = settings.mode is RunMode.EMBEDDED
    if migrate:
        upgrade(url)
    else:
        check_current(url)
    engine = build_engine(url)
    sessions = build_session_factory(engine)
    if local_server is not None:
        from documind.local_server import ServerIndexVersions

        versions: IndexVersions = ServerIndexVersions(local_server)
    else:
        versions = build_index_versions(settings)
    status = StatusStore(sessions, versions, max_work_s=settings.max_stage_s)
    metrics = build_metrics(CollectorRegistry())
    results = build_results_backend(settings)

    def on_exhausted(document_id: str, reason: str) -> None:
        if status.fail(document_id, reason):
            metrics.documents_finished.labels("failed").inc()

    status.on_failed = metrics.documents_finished.labels("failed").inc
    middleware = build_middleware(
        settings, sessions, results,
        on_exhausted=on_exhausted,
        on_delivery=lambda actor: metrics.deliveries.labels(actor).inc(),
        on_dead_letter=lambda actor: metrics.dead_letters.labels(actor).inc(),
    )
    broker = build_broker(settings, middleware)
    dramatiq.set_broker(broker)
    storage = LocalStorage(settings.effective_storage_dir)
    pending = build_pending_work(settings, middleware, broker)
    bus: Any = Bus(broker, results)
    if local_server is not None:
        from documind.local_server import ServerBus

        bus = ServerBus(local_server)
    return Runtime(settings, engine, sessions, status, storage, broker, bus, metrics, versions, pending)


def discover_services() -> dict[str, Register]:
    """Installed services by name (``ingest``, ``embed``, ...) -> their register function."""
    return {ep.name: ep.load() for ep in entry_points(group=SERVICE_GROUP)}


def register_services(runtime: Runtime, names: list[str] | None = None) -> list[str]:
    available = discover_services()
    wanted = names or sorted(available)
    missing = [n for n in wanted if n not in available]
    if missing:
        raise SystemExit(
            f"service(s) not installed: {', '.join(missing)}; installed: {', '.join(sorted(available)) or 'none'}"
        )
    for name in wanted:
        available[name](runtime)
    return wanted


def boot(*registers: Register) -> dramatiq.Broker:
    """A worker process's composition root: settings from the environment, one runtime, the
    given services' actors on its broker (what Dramatiq's CLI needs back)."""
    from documind.settings import load_settings

    runtime = build_runtime(load_settings())
    for register in registers:
        register(runtime)
    return runtime.broker
