"""Broker construction with DocuMind's middleware stack.

Distributed: Redis broker and Redis results. Embedded: Dramatiq's in-process StubBroker and
an in-memory results backend that wakes its waiters (documind.memory_results). Same
middleware, same actors, same messages."""

from __future__ import annotations

import os
from typing import Callable

import dramatiq
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)
from dramatiq.results import Results

from documind.contracts import Queues
from documind.db.engine import SessionFactory
from documind.errors import is_transient
from documind.memory_results import MemoryResults
from documind.middleware import DeliveryCounter, Liveness, LogContext, Unroutable
from documind.middleware.deliveries import MemoryReceipts, ReceiptCounter, RedisReceipts
from documind.pending import PendingMessages, PendingWork, RedisPendingWork
from documind.settings import RunMode, Settings


def _retry_when(max_retries: int) -> Callable[[int, BaseException], bool]:
    # Transient errors only (docs/design.md rule 7): a corrupt file fails the same way every time.
    def retry_when(retries: int, exc: BaseException) -> bool:
        return retries < max_retries and is_transient(exc)

    return retry_when


def build_middleware(
    settings: Settings,
    sessions: SessionFactory,
    results_backend,  # noqa: ANN001
    on_exhausted: Callable[[str, str], None] | None = None,
    on_delivery: Callable[[str], None] | None = None,
    on_dead_letter: Callable[[str], None] | None = None,
) -> list[dramatiq.Middleware]:
    stack: list[dramatiq.Middleware] = [
        LogContext(),
        AgeLimit(max_age=settings.message_max_age_s * 1000),
        TimeLimit(time_limit=settings.message_time_limit_s * 1000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        CurrentMessage(),
        Retries(
            max_retries=settings.max_retries,
            min_backoff=settings.min_backoff_ms,
            max_backoff=settings.max_backoff_ms,
            retry_when=_retry_when(settings.max_retries),
        ),
        # Before the delivery counter: a made-up actor name gets no receipt and no metric series.
        Unroutable(sessions, on_dead_letter),
        DeliveryCounter(
            _receipts(settings), sessions, settings.max_deliveries, on_exhausted, on_delivery, on_dead_letter
        ),
        Results(backend=results_backend, result_ttl=10 * 60 * 1000),
    ]
    if settings.mode is RunMode.DISTRIBUTED and settings.metrics_port:
        stack.append(_prometheus(settings))
    if settings.mode is RunMode.DISTRIBUTED and settings.health_port:
        from documind.health import readiness_checks
        from documind.middleware.health import HealthServer

        stack.append(HealthServer(settings.health_port, readiness_checks(settings), settings.liveness_stale_s))
    if settings.liveness_file is not None:
        stack.append(Liveness(settings.liveness_file))
    if settings.mode is RunMode.EMBEDDED:
        stack.append(PendingMessages())  # what the watchdog asks (build_pending_work)
    return stack


def start_time_limits(broker: dramatiq.Broker) -> None:
    """Start TimeLimit's watcher thread. Dramatiq starts it on ``process_boot``, which only
    its CLI emits: without this, in-process workers (embedded mode, tests) have no time limit.
    Emitting ``process_boot`` itself would also run other boot hooks (the search warm-up)."""
    for middleware in broker.middleware:
        if isinstance(middleware, TimeLimit) and not middleware.manager.is_alive():  # type: ignore[union-attr]
            middleware.after_process_boot(broker)


def run_boot_hooks(broker: dramatiq.Broker) -> None:
    """The boot hooks a Dramatiq worker process runs (the search warm-up), for a long-lived
    embedded process (``documind serve``): one that answers many commands should pay for its
    model once, up front. TimeLimit is left out: ``start_time_limits`` started it."""
    for middleware in broker.middleware:
        if not isinstance(middleware, TimeLimit):
            middleware.after_process_boot(broker)


def build_pending_work(
    settings: Settings, middleware: list[dramatiq.Middleware], broker: dramatiq.Broker
) -> PendingWork:
    """Where the watchdog learns which documents still have a message in the broker."""
    if settings.mode is RunMode.EMBEDDED:
        return next(m for m in middleware if isinstance(m, PendingMessages))
    return RedisPendingWork(broker, Queues.ALL)


def _receipts(settings: Settings) -> ReceiptCounter:
    if settings.mode is RunMode.EMBEDDED:
        return MemoryReceipts()
    import redis

    client = redis.Redis.from_url(settings.redis_url.get_secret_value())
    return RedisReceipts(client, ttl_s=settings.message_max_age_s, prefix=f"{settings.redis_namespace}:receipts:")


def _prometheus(settings: Settings) -> dramatiq.Middleware:
    # Dramatiq 2 leaves Prometheus out of its defaults; its middleware reads these variables
    # when imported, so set them first (docs/design.md rule 9).
    metrics_dir = settings.metrics_dir or settings.data_dir / "prometheus"
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    os.environ.setdefault("dramatiq_prom_db", str(metrics_dir))
    os.environ["dramatiq_prom_port"] = str(settings.metrics_port)
    from dramatiq.middleware.prometheus import Prometheus

    return Prometheus()


def build_results_backend(settings: Settings):  # noqa: ANN201
    if settings.mode is RunMode.EMBEDDED:
        return MemoryResults()
    import redis
    from dramatiq.results.backends.redis import RedisBackend

    # Waiting for a result is a blocking BRPOPLPUSH; redis-py's default 5 s socket timeout
    # would cut every wait longer than that, so reads on this client do not time out.
    client = redis.Redis.from_url(
        settings.redis_url.get_secret_value(), socket_timeout=None, socket_connect_timeout=10
    )
    return RedisBackend(client=client, namespace=f"{settings.redis_namespace}-results")


def build_broker(settings: Settings, middleware: list[dramatiq.Middleware]) -> dramatiq.Broker:
    if settings.mode is RunMode.EMBEDDED:
        broker: dramatiq.Broker = StubBroker(middleware=middleware)
    else:
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(
            url=settings.redis_url.get_secret_value(), namespace=settings.redis_namespace, middleware=middleware
        )
    # Declare every queue so any service can send to any other without importing it.
    for queue in Queues.ALL:
        broker.declare_queue(queue)
    return broker
