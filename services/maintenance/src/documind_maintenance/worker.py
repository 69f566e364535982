"""Composition root of the maintenance service (``dramatiq documind_maintenance.worker:setup``).

The schedule runs in exactly one scheduler process: ``periodiq documind_maintenance.worker:setup``
(periodiq has no guard against a second scheduler, docs/design.md rule 8); a duplicate tick, or a
``documind recover`` during a run, finds the watchdog's lock held and skips."""

from __future__ import annotations

import dramatiq
from periodiq import PeriodiqMiddleware, cron

from documind.contracts import PruneQueryLog, RunWatchdog
from documind.locks import build_job_lock
from documind.runtime import Runtime, boot
from documind.tasks import declare

from documind_maintenance.retention import QueryLogRetention
from documind_maintenance.watchdog import Watchdog

WATCHDOG_SCHEDULE = "* * * * *"  # every minute
QUERY_LOG_PRUNE_SCHEDULE = "17 * * * *"  # hourly: retention is counted in days


def register(runtime: Runtime) -> None:
    if not any(isinstance(m, PeriodiqMiddleware) for m in runtime.broker.middleware):
        runtime.broker.add_middleware(PeriodiqMiddleware(skip_delay=60))
    watchdog = Watchdog(runtime, build_job_lock(runtime.engine, runtime.settings.data_dir))
    declare(runtime, RunWatchdog, watchdog.run, store_results=True, periodic=cron(WATCHDOG_SCHEDULE))
    retention = QueryLogRetention(runtime)
    declare(runtime, PruneQueryLog, retention.run, store_results=True, periodic=cron(QUERY_LOG_PRUNE_SCHEDULE))


def setup() -> dramatiq.Broker:
    return boot(register)
