"""The monitoring collector (``documind collector``): gauges read from Redis and the database
at each scrape, for what no worker can count on its own (queue backlogs, documents per
status, stuck work, when each scheduled job last ran). Workers export their own counters and
histograms (stage latency, time to searchable, re-drives) on ``DOCUMIND_METRICS_PORT``.

A source that does not answer leaves its gauges out of that scrape and sets
``documind_collector_source_up{source}`` to 0, so an alert can tell "no backlog" from "cannot
see the backlog"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from documind.db.engine import SessionFactory
from documind.db.models import DeadLetter, Document, DocumentStatus, ScheduledRun
from documind.logging import get_logger
from documind.status import StatusStore

from documind_maintenance.queues import RedisQueues


@dataclass
class DatabaseReading:
    documents: dict[str, int]
    dead_letter_rows: int
    stuck_documents: int
    last_runs: dict[str, float]  # job -> unix seconds


def read_database(sessions: SessionFactory, status: StatusStore, stale_after_s: float) -> DatabaseReading:
    with sessions() as s:
        counts = dict(s.execute(select(Document.status, func.count()).group_by(Document.status)).all())
        letters = s.scalar(select(func.count()).select_from(DeadLetter)) or 0
        runs = s.execute(select(ScheduledRun.job, func.max(ScheduledRun.started_at)).group_by(ScheduledRun.job)).all()
    after = timedelta(seconds=stale_after_s)
    # The watchdog's suspects: non-final past its bound (a suspect whose message still waits
    # in a backlog counts too: from outside, that document is stuck as well).
    stuck = {d for d, _g, _s, _h in status.stale_stages(after)} | {d for d, _g in status.idle_documents(after)}
    documents = {st.value: 0 for st in DocumentStatus}
    documents.update({(k.value if isinstance(k, DocumentStatus) else str(k)): v for k, v in counts.items()})
    return DatabaseReading(
        documents=documents,
        dead_letter_rows=int(letters),
        stuck_documents=len(stuck),
        last_runs={job: _unix(at) for job, at in runs if at is not None},
    )


def _unix(naive_utc: datetime) -> float:
    # Stored naive in UTC (models.utcnow).
    return naive_utc.replace(tzinfo=timezone.utc).timestamp()


class SystemCollector(Collector):
    def __init__(
        self, sessions: SessionFactory, status: StatusStore, stale_after_s: float, queues: RedisQueues | None
    ) -> None:
        self.sessions = sessions
        self.status = status
        self.stale_after_s = stale_after_s
        self.queues = queues  # None in embedded mode: its queues live inside one process

    def describe(self) -> list:
        # No describe-time reads: registering must not touch Redis or the database.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "documind_collector_source_up", "Whether the collector could read a source at this scrape", labels=["source"]
        )
        if self.queues is not None:
            try:
                readings = self.queues.read()
            except Exception as exc:  # noqa: BLE001 - a scrape reports the failure, never raises
                get_logger("documind.collector").warning("redis unreadable", error=f"{type(exc).__name__}: {exc}")
                up.add_metric(["redis"], 0)
            else:
                up.add_metric(["redis"], 1)
                depth = GaugeMetricFamily(
                    "documind_queue_depth",
                    "Messages per queue: ready (waiting to be fetched), delayed (retry back-off), "
                    "dead (Dramatiq's dead-letter set)",
                    labels=["queue", "state"],
                )
                age = GaugeMetricFamily(
                    "documind_queue_oldest_message_age_seconds",
                    "Age of the oldest message per queue and state (since enqueue; dead: since "
                    "dead-lettered); 0 when empty",
                    labels=["queue", "state"],
                )
                for r in readings:
                    depth.add_metric([r.queue, r.state], r.depth)
                    age.add_metric([r.queue, r.state], r.oldest_age_s)
                yield depth
                yield age
        try:
            db = read_database(self.sessions, self.status, self.stale_after_s)
        except Exception as exc:  # noqa: BLE001
            get_logger("documind.collector").warning("database unreadable", error=f"{type(exc).__name__}: {exc}")
            up.add_metric(["database"], 0)
        else:
            up.add_metric(["database"], 1)
            docs = GaugeMetricFamily("documind_documents", "Documents per status", labels=["status"])
            for st, n in sorted(db.documents.items()):
                docs.add_metric([st], n)
            yield docs
            yield GaugeMetricFamily(
                "documind_dead_letter_rows", "Rows in the dead_letters table (re-driven or not)", value=db.dead_letter_rows
            )
            yield GaugeMetricFamily(
                "documind_stuck_documents",
                "Documents not final whose heartbeat or last update is older than DOCUMIND_STALE_AFTER_S",
                value=db.stuck_documents,
            )
            last = GaugeMetricFamily(
                "documind_scheduler_last_run_timestamp_seconds",
                "When each scheduled job's latest tick started running (unix seconds)",
                labels=["job"],
            )
            for job, ts in sorted(db.last_runs.items()):
                last.add_metric([job], ts)
            yield last
        yield up


def build_collector(settings) -> SystemCollector:  # noqa: ANN001 - documind.settings.Settings
    """Its own engine and Redis client: the collector needs no broker, actors or models."""
    from documind.contracts import Queues
    from documind.db.engine import build_engine, build_session_factory
    from documind.settings import RunMode

    sessions = build_session_factory(build_engine(settings.effective_database_url))
    queues = None
    if settings.mode is RunMode.DISTRIBUTED:
        import redis

        client = redis.Redis.from_url(
            settings.redis_url.get_secret_value(), socket_timeout=5, socket_connect_timeout=5
        )
        queues = RedisQueues(client, settings.redis_namespace, Queues.ALL)
    return SystemCollector(sessions, StatusStore(sessions), settings.stale_after_s, queues)


def serve(settings, port: int) -> None:  # noqa: ANN001
    """Serve ``/metrics`` on ``port`` until the process is stopped (SIGTERM / SIGINT)."""
    import signal
    import threading

    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(build_collector(settings))
    server, thread = start_http_server(port, registry=registry)
    get_logger("documind.collector").info("collector serving", port=port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
