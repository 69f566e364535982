"""Composition root of the maintenance service (``dramatiq documind_maintenance.worker:setup``).

The schedule runs in one scheduler process (``documind scheduler``); each tick runs once
however many schedulers send it (``schedule.ScheduledTicks``: a row per (job, tick)), and the
watchdog's own lock also keeps a ``documind recover`` from running beside a scheduled run."""

from __future__ import annotations

import dramatiq

from documind.contracts import (
    CheckIndex, PruneQueryLog, RunBackup, RunCleanup, RunIndexCheck, RunWatchdog, SweepSearchCache,
)
from documind.locks import build_job_lock
from documind.runtime import Runtime, boot
from documind.tasks import declare

from documind_maintenance.backup import Backups
from documind_maintenance.cache import build_janitor
from documind_maintenance.cleanup import CORE_RULES, Cleanup
from documind_maintenance.retention import QueryLogRetention
from documind_maintenance.schedule import ScheduledTicks, TickLock, periodic_option
from documind_maintenance.validation_retention import VALIDATION_TASKS_RULE
from documind_maintenance.watchdog import Watchdog


def register(runtime: Runtime) -> None:
    st = runtime.settings
    if not any(isinstance(m, ScheduledTicks) for m in runtime.broker.middleware):
        runtime.broker.add_middleware(ScheduledTicks(TickLock(runtime.sessions)))
    watchdog = Watchdog(runtime, build_job_lock(runtime.engine, st.data_dir))
    declare(runtime, RunWatchdog, watchdog.run, store_results=True, **periodic_option(st.schedule_watchdog))
    retention = QueryLogRetention(runtime)
    declare(runtime, PruneQueryLog, retention.run, store_results=True, **periodic_option(st.schedule_query_log_prune))

    def index_check(_work: RunIndexCheck) -> dict:
        # The search service owns the index: it checks, and repairs only what it finds damaged.
        runtime.bus.send(CheckIndex(repair=True))
        return {"sent": CheckIndex.ACTOR}

    declare(runtime, RunIndexCheck, index_check, store_results=True, **periodic_option(st.schedule_index_check))

    cleanup = Cleanup(runtime.sessions, st, st.effective_storage_dir, rules=(*CORE_RULES, VALIDATION_TASKS_RULE))
    declare(runtime, RunCleanup, lambda work: cleanup.run(dry_run=work.dry_run).as_dict(), store_results=True,
            **periodic_option(st.schedule_cleanup))
    janitor = build_janitor(st, runtime.versions)
    declare(runtime, SweepSearchCache, lambda _work: janitor.sweep(), store_results=True,
            **periodic_option(st.schedule_cache_sweep))
    backups = Backups(st)
    declare(runtime, RunBackup, lambda _work: backups.backup(), store_results=True,
            time_limit_s=st.backup_timeout_s * 3, **periodic_option(st.schedule_backup))


def setup() -> dramatiq.Broker:
    return boot(register)
