"""Periodic jobs: which actors run on which cron (settings), the (job, tick) lock that makes
each scheduled tick run once, and the scheduler process.

periodiq sends each periodic actor a message carrying ``scheduled_at`` (the tick). Two
schedulers (a rolling update briefly runs two) send the same tick twice; the worker that
takes a tick first inserts the ``scheduled_runs`` row keyed by (job, tick), the other finds
the key taken and skips. periodiq's own middleware drops a message that arrives later than
``skip_delay``; ours runs a late tick anyway, once: a watchdog or backup that waited behind a
backlog or a worker restart must still happen."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import dramatiq
from dramatiq import Middleware
from dramatiq.middleware import SkipMessage
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from documind.db.engine import SessionFactory, transaction
from documind.db.models import ScheduledRun, utcnow
from documind.logging import get_logger


def tick_of(scheduled_at: str) -> datetime:
    """periodiq's ``scheduled_at`` (pendulum ISO text, with offset) as naive UTC, floored to
    the minute: cron's resolution. Two schedulers wake a moment apart (each sends its start-up
    tick at its own second), yet name the same tick."""
    at = datetime.fromisoformat(scheduled_at)
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at.replace(second=0, microsecond=0)


@dataclass
class TickLock:
    sessions: SessionFactory

    def claim(self, job: str, tick: datetime, message_id: str) -> bool:
        """True if this message runs the tick: it inserted the row, or the row is its own
        (a retry of the same message after a transient error)."""
        try:
            with transaction(self.sessions) as s:
                s.add(ScheduledRun(job=job, tick=tick, message_id=message_id, started_at=utcnow()))
            return True
        except IntegrityError:
            with self.sessions() as s:
                owner = s.scalar(select(ScheduledRun.message_id).where(ScheduledRun.job == job, ScheduledRun.tick == tick))
            return owner == message_id

    def finish(self, job: str, tick: datetime, outcome: str) -> None:
        with transaction(self.sessions) as s:
            run = s.get(ScheduledRun, (job, tick))
            if run is not None:
                run.finished_at = utcnow()
                run.outcome = outcome


class ScheduledTicks(Middleware):
    """Runs each scheduled tick of a periodic actor once (see the module docstring). Declares
    the ``periodic`` actor option, as periodiq's middleware does, so actors accept it."""

    actor_options = {"periodic"}

    def __init__(self, lock: TickLock) -> None:
        self.lock = lock

    def _tick(self, broker, message) -> datetime | None:  # noqa: ANN001
        actor = broker.get_actor(message.actor_name)
        if "periodic" not in actor.options or "scheduled_at" not in message.options:
            return None  # sent by hand (`documind recover`, a test): not a tick
        return tick_of(message.options["scheduled_at"])

    def before_process_message(self, broker, message):  # noqa: ANN001
        tick = self._tick(broker, message)
        if tick is None:
            return
        if not self.lock.claim(message.actor_name, tick, message.message_id):
            get_logger("documind.schedule").info("tick already run", job=message.actor_name, tick=tick.isoformat())
            raise SkipMessage()

    def after_process_message(self, broker, message, *, result=None, exception=None):  # noqa: ANN001
        tick = self._tick(broker, message)
        if tick is not None:
            self.lock.finish(message.actor_name, tick, "ok" if exception is None else "failed")


def periodic_option(spec: str) -> dict:
    """Actor options for a cron spec from the settings ('' = not scheduled)."""
    if not spec.strip():
        return {}
    from periodiq import cron

    try:
        return {"periodic": cron(spec)}
    except Exception as exc:  # noqa: BLE001 - periodiq raises bare errors on bad specs
        raise ValueError(f"invalid cron schedule {spec!r}: {exc}") from None


# ---- the scheduler process ---------------------------------------------------------------------
def run_scheduler(broker: dramatiq.Broker, beat) -> int:  # noqa: ANN001 - beat(now, next_tick)
    """periodiq's scheduler loop over the broker's periodic actors, recording a heartbeat at
    every wake-up with the next tick, so ``documind health`` can tell a stopped scheduler."""
    from periodiq import Scheduler

    actors = [a for a in broker.actors.values() if "periodic" in a.options]
    if not actors:
        get_logger("documind.schedule").error("no periodic job scheduled (every schedule is empty)")
        return 1

    class BeatingScheduler(Scheduler):
        def send_actors(self, due, now):  # noqa: ANN001, ANN202
            super().send_actors(due, now)
            upcoming = min(a.options["periodic"].next_valid_date(now) for a in self.actors)
            beat(now.timestamp(), upcoming.timestamp())

    for a in actors:
        get_logger("documind.schedule").info("scheduling", job=a.actor_name, cron=str(a.options["periodic"]))
    scheduler = BeatingScheduler(actors=actors)
    scheduler.schedule()
    scheduler.loop()
    return 0


def redis_beat(client, key: str):  # noqa: ANN001, ANN201
    def beat(now: float, next_tick: float) -> None:
        try:
            client.set(key, json.dumps({"ticked_at": now, "next_tick_at": next_tick}))
        except Exception as exc:  # noqa: BLE001 - a missed beat must not stop the schedule
            get_logger("documind.schedule").warning("scheduler heartbeat not written", error=str(exc))

    return beat
