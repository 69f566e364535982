"""Each scheduled tick of a periodic job runs once, on a real (in-process) broker and worker
and a real SQLite database: a duplicate tick (a second scheduler) is skipped, a late tick
still runs, a retry of the tick's own message is not taken for a duplicate."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dramatiq
import pytest
from dramatiq import Worker
from periodiq import cron
from sqlalchemy import select

from documind.db.models import ScheduledRun
from documind.runtime import build_runtime
from documind.settings import load_settings
from documind_maintenance.schedule import ScheduledTicks, TickLock, periodic_option, tick_of


@pytest.fixture()
def runtime(tmp_path: Path):
    rt = build_runtime(load_settings(mode="embedded", data_dir=tmp_path / "data"), configure_logs=False)
    rt.broker.add_middleware(ScheduledTicks(TickLock(rt.sessions)))
    yield rt
    rt.close()


def _tick_message(actor: dramatiq.Actor, at: datetime) -> dramatiq.Message:
    # What periodiq's scheduler sends: no arguments, the tick in ``scheduled_at``.
    return actor.message_with_options(scheduled_at=at.isoformat())


def _run(rt, messages: list[dramatiq.Message]) -> None:  # noqa: ANN001
    for m in messages:
        rt.broker.enqueue(m)
    worker = Worker(rt.broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        rt.broker.join("maintenance", timeout=30_000)
        worker.join()
    finally:
        worker.stop()


def test_a_tick_sent_by_two_schedulers_runs_once_and_a_late_tick_still_runs(runtime) -> None:
    calls: list[int] = []
    lock = threading.Lock()

    def job() -> None:
        with lock:
            calls.append(1)

    actor = dramatiq.actor(job, broker=runtime.broker, actor_name="test.job", queue_name="maintenance",
                           periodic=cron("* * * * *"))
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    late = now - timedelta(hours=3)  # periodiq's own middleware would drop this one
    _run(runtime, [_tick_message(actor, now), _tick_message(actor, now), _tick_message(actor, late)])
    assert len(calls) == 2
    with runtime.sessions() as s:
        runs = s.execute(select(ScheduledRun.job, ScheduledRun.tick, ScheduledRun.outcome)).all()
    assert sorted(runs) == sorted([
        ("test.job", now.replace(tzinfo=None), "ok"), ("test.job", late.replace(tzinfo=None), "ok"),
    ])
    # A message sent by hand (no tick) always runs and takes no lock.
    _run(runtime, [actor.message()])
    assert len(calls) == 3


def test_the_lock_belongs_to_the_message_that_took_it(runtime) -> None:
    lock = TickLock(runtime.sessions)
    tick = datetime(2026, 1, 1, 3, 41)
    assert lock.claim("maintenance.index_check", tick, "m-1") is True
    assert lock.claim("maintenance.index_check", tick, "m-2") is False  # the other scheduler's copy
    assert lock.claim("maintenance.index_check", tick, "m-1") is True  # m-1 retried after an error
    assert lock.claim("maintenance.watchdog", tick, "m-2") is True  # another job, same tick


def test_tick_of_reads_periodiq_timestamps_as_naive_utc() -> None:
    assert tick_of("2026-11-30T14:05:00+02:00") == datetime(2026, 11, 30, 12, 5)
    assert tick_of("2026-11-30T12:05:01.400000+00:00") == datetime(2026, 11, 30, 12, 5)  # a late wake-up


def test_schedules_come_from_settings_and_bad_ones_are_refused() -> None:
    assert periodic_option("") == {}
    assert str(periodic_option("*/5 * * * *")["periodic"]) == "*/5 * * * *"
    with pytest.raises(ValueError, match="invalid cron schedule"):
        periodic_option("every minute")
