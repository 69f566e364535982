"""Retention of finished validation tasks (``DOCUMIND_VALIDATION_TASK_RETENTION_DAYS``).

Removed, with their answers: superseded tasks (never decided) and tasks answered with an
approval or a rejection, once older than the setting (answered: since the decision;
superseded: since they opened). Kept:

- **unanswered tasks**: work in progress;
- **corrections**: their answers hold the text before and after, the fine-tuning pairs of
  ``documind validate export --kind pairs``;
- **what the decision wrote back**: ``chunk_validations`` (confirmed labels, who and when:
  the classifier's training data) is its own table, untouched, and the chunk keeps
  ``rejected_at``;
- **the audit trail**: entries name the task by id and are never deleted, so the hash chain
  stays whole; the validators' agreement figures are counters on their rows."""

from __future__ import annotations

from sqlalchemy import func, or_

from documind.db.models import TaskStatus, ValidationTask, Verdict

from documind_maintenance.cleanup import RetentionRule


def finished_tasks():  # noqa: ANN201 - a SQL condition
    return or_(
        ValidationTask.status == TaskStatus.SUPERSEDED,
        (ValidationTask.status == TaskStatus.ANSWERED) & (ValidationTask.outcome != Verdict.CORRECT),
    )


VALIDATION_TASKS_RULE = RetentionRule(
    "validation_tasks", ValidationTask, func.coalesce(ValidationTask.answered_at, ValidationTask.created_at),
    lambda st: st.validation_task_retention_days, where=finished_tasks,
)
