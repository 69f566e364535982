"""Who validates what. A task goes to the least-loaded active validator who fits (speaks
the task's language, or the task has none) and has room (live load < capacity); never
beyond capacity. Tasks are handed out two ways, under the same rules:

- ``next_task``: a validator asks; they get the task they hold, else (with room) the
  highest-priority free task that fits them;
- ``assign_open``: open tasks are pushed to the least-loaded fitting validators (the
  validate service runs it after opening tasks; ``documind validate assign`` too).

An assignment not answered within ``assign_timeout_s`` lapses: the task is free again and
no longer counts against its holder's capacity. ``release`` gives a task back at once.

Concurrency: on Postgres a free task is taken with ``FOR UPDATE SKIP LOCKED`` (two
validators asking at once lock different rows, neither waits), and the asking validator's
row is locked so their own concurrent requests cannot overrun their capacity. SQLite (the
embedded mode) has no row locks: ``write_transaction`` opens with ``BEGIN IMMEDIATE``, so
assignments run one at a time and each sees what the previous one committed."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from documind import audit
from documind.db.engine import SessionFactory, write_transaction
from documind.db.models import TaskStatus, ValidationAnswer, ValidationTask, Validator, utcnow
from documind.validation.errors import ValidationRefused
from documind.validation.views import task_view
from documind.validation.chunks import chunk_text


class Assignment:
    def __init__(self, sessions: SessionFactory, assign_timeout_s: float) -> None:
        self.sessions = sessions
        self.assign_timeout_s = assign_timeout_s

    def cutoff(self) -> datetime:
        return utcnow() - timedelta(seconds=self.assign_timeout_s)

    # ---- queries ----------------------------------------------------------------------
    @staticmethod
    def _free(cutoff: datetime):  # noqa: ANN205
        """Open, or assigned but lapsed."""
        return or_(
            ValidationTask.status == TaskStatus.OPEN,
            and_(ValidationTask.status == TaskStatus.ASSIGNED, ValidationTask.assigned_at < cutoff),
        )

    @staticmethod
    def _fits(v: Validator):  # noqa: ANN205
        answered = select(ValidationAnswer.task_id).where(ValidationAnswer.validator_id == v.id)
        # A validator never answers the same task twice (the second and third opinions).
        cond = ValidationTask.id.not_in(answered)
        if v.languages:
            cond = and_(cond, or_(ValidationTask.language.is_(None), ValidationTask.language.in_(v.languages)))
        return cond

    @staticmethod
    def load(s: Session, validator_id: int, cutoff: datetime) -> int:
        return int(s.scalar(
            select(func.count()).where(
                ValidationTask.assigned_to == validator_id, ValidationTask.status == TaskStatus.ASSIGNED,
                ValidationTask.assigned_at >= cutoff,
            )
        ) or 0)

    @staticmethod
    def validator(s: Session, name: str, *, lock: bool = False) -> Validator:
        q = select(Validator).where(Validator.name == name)
        v = s.scalar(q.with_for_update() if lock else q)
        if v is None:
            raise ValidationRefused(f"no validator {name!r} (documind validators add)")
        if not v.active:
            raise ValidationRefused(f"validator {name!r} is not active")
        return v

    # ---- taking -----------------------------------------------------------------------
    def next_task(self, name: str) -> dict | None:
        """The task ``name`` should work on now, or None (nothing fits, or at capacity)."""
        with write_transaction(self.sessions) as s:
            v = self.validator(s, name, lock=True)
            cutoff = self.cutoff()
            held = s.scalar(
                select(ValidationTask).where(
                    ValidationTask.assigned_to == v.id, ValidationTask.status == TaskStatus.ASSIGNED,
                    ValidationTask.assigned_at >= cutoff,
                ).order_by(ValidationTask.priority, ValidationTask.id).limit(1)
            )
            if held is not None:
                return task_view(held, chunk_text(s, held), v.name)
            if self.load(s, v.id, cutoff) >= v.capacity:
                return None
            task = s.scalar(
                select(ValidationTask).where(self._free(cutoff), self._fits(v))
                .order_by(ValidationTask.priority, ValidationTask.id).limit(1)
                .with_for_update(skip_locked=True)
            )
            if task is None:
                return None
            self._assign(s, task, v, actor=v.name, reason="taken by the validator")
            return task_view(task, chunk_text(s, task), v.name)

    def assign_open(self, limit: int = 1000) -> int:
        """Push free tasks (by priority) to the least-loaded fitting validators with room;
        returns how many were assigned."""
        assigned = 0
        with write_transaction(self.sessions) as s:
            cutoff = self.cutoff()
            # Locked in id order (one order for every writer: no deadlocks between pushes).
            validators = list(s.scalars(
                select(Validator).where(Validator.active.is_(True)).order_by(Validator.id).with_for_update()
            ))
            if not validators:
                return 0
            loads = {v.id: self.load(s, v.id, cutoff) for v in validators}
            answered: dict[int, set[int]] = {}
            tasks = list(s.scalars(
                select(ValidationTask).where(self._free(cutoff))
                .order_by(ValidationTask.priority, ValidationTask.id).limit(limit)
                .with_for_update(skip_locked=True)
            ))
            if tasks:
                for tid, vid in s.execute(select(ValidationAnswer.task_id, ValidationAnswer.validator_id).where(
                        ValidationAnswer.task_id.in_([t.id for t in tasks]))):
                    answered.setdefault(tid, set()).add(vid)
            for task in tasks:
                fitting = [
                    v for v in validators
                    if loads[v.id] < v.capacity and v.id not in answered.get(task.id, set())
                    and (not v.languages or task.language is None or task.language in v.languages)
                ]
                if not fitting:
                    continue
                v = min(fitting, key=lambda c: (loads[c.id], -(c.agreed / c.compared if c.compared else 0.5), c.id))
                self._assign(s, task, v, actor="validate.assign", reason=f"least loaded fitting validator ({loads[v.id]} held)")
                loads[v.id] += 1
                assigned += 1
        return assigned

    @staticmethod
    def _assign(s: Session, task: ValidationTask, v: Validator, *, actor: str, reason: str) -> None:
        before = {"status": task.status.value, "assigned_to": task.assigned_to}
        task.status = TaskStatus.ASSIGNED
        task.assigned_to = v.id
        task.assigned_at = utcnow()
        audit.record(s, actor=actor, entity_type="task", entity_id=str(task.id), action="assign",
                     before=before, after={"status": "assigned", "assigned_to": v.name}, reason=reason)

    def release(self, task_id: int, name: str) -> dict:
        with write_transaction(self.sessions) as s:
            v = self.validator(s, name)
            task = s.scalar(select(ValidationTask).where(ValidationTask.id == task_id).with_for_update())
            if task is None:
                raise ValidationRefused(f"no validation task {task_id}")
            if task.status != TaskStatus.ASSIGNED or task.assigned_to != v.id:
                raise ValidationRefused(f"task {task_id} is not held by {name}")
            task.status = TaskStatus.OPEN
            task.assigned_to = None
            task.assigned_at = None
            audit.record(s, actor=name, entity_type="task", entity_id=str(task.id), action="release",
                         before={"status": "assigned", "assigned_to": name}, after={"status": "open"},
                         reason="released by the validator")
            return task_view(task)
