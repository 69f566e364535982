"""The validator registry: name, languages, capacity; load and reliability figures."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from documind import audit
from documind.db.engine import SessionFactory, transaction
from documind.db.models import TaskStatus, ValidationAnswer, ValidationTask, Validator, utcnow
from documind.validation.errors import ValidationRefused
from documind.validation.views import validator_view


def parse_languages(value: str | None) -> list[str]:
    langs = sorted({p.strip().lower() for p in (value or "").split(",") if p.strip()})
    bad = [lang for lang in langs if not (2 <= len(lang) <= 16 and lang.replace("-", "").isalnum())]
    if bad:
        raise ValidationRefused(f"not a language code: {', '.join(bad)} (e.g. en,de)")
    return langs


def live_load(cutoff: datetime):  # noqa: ANN201
    """Per validator id, tasks held and not yet timed out (a subquery)."""
    return (
        select(ValidationTask.assigned_to.label("vid"), func.count().label("load"))
        .where(ValidationTask.status == TaskStatus.ASSIGNED, ValidationTask.assigned_at >= cutoff)
        .group_by(ValidationTask.assigned_to)
        .subquery()
    )


class Validators:
    def __init__(self, sessions: SessionFactory, assign_timeout_s: float) -> None:
        self.sessions = sessions
        self.assign_timeout_s = assign_timeout_s

    def add(self, name: str, languages: list[str], capacity: int, *, actor: str = "cli") -> dict:
        if not name.strip() or len(name) > 128:
            raise ValidationRefused("a validator name is 1 to 128 characters")
        if capacity < 1:
            raise ValidationRefused("capacity must be at least 1")
        try:
            with transaction(self.sessions) as s:
                v = Validator(name=name, languages=languages, capacity=capacity, active=True, compared=0, agreed=0)
                s.add(v)
                s.flush()
                audit.record(s, actor=actor, entity_type="validator", entity_id=name, action="add",
                             after={"languages": languages, "capacity": capacity})
                return validator_view(v)
        except IntegrityError:
            raise ValidationRefused(f"validator {name!r} exists already") from None

    def list(self) -> list[dict]:
        cutoff = utcnow() - timedelta(seconds=self.assign_timeout_s)
        with self.sessions() as s:
            load = live_load(cutoff)
            rows = s.execute(
                select(Validator, func.coalesce(load.c.load, 0))
                .outerjoin(load, load.c.vid == Validator.id).order_by(Validator.name)
            ).all()
            return [validator_view(v, int(n)) for v, n in rows]

    def stats(self) -> list[dict]:
        """Per validator: answers by verdict, agreement, reliability, current load."""
        out = self.list()
        with self.sessions() as s:
            rows = s.execute(
                select(Validator.name, ValidationAnswer.verdict, func.count())
                .join(ValidationAnswer, ValidationAnswer.validator_id == Validator.id)
                .group_by(Validator.name, ValidationAnswer.verdict)
            ).all()
        counts: dict[str, dict[str, int]] = {}
        for name, verdict, n in rows:
            counts.setdefault(name, {})[verdict.value] = n
        for entry in out:
            entry["answers"] = counts.get(entry["name"], {})
            entry["answered"] = sum(entry["answers"].values())
        return out
