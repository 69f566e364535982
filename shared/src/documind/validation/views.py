"""Plain-dict views of validation rows (the CLI's ``--json``)."""

from __future__ import annotations

from typing import Any

from documind.db.models import ValidationTask, Validator


def task_view(task: ValidationTask, text: str | None = None, validator: str | None = None) -> dict[str, Any]:
    return {
        "task_id": task.id, "document_id": task.document_id, "tenant": task.tenant,
        "generation": task.generation, "chunk_index": task.chunk_idx, "language": task.language,
        "confidence": task.confidence, "reasons": task.reasons, "lane": task.lane.value,
        "priority": task.priority, "status": task.status.value, "assigned_to": validator,
        "assigned_at": task.assigned_at.isoformat() if task.assigned_at else None,
        "required_answers": task.required_answers,
        "outcome": task.outcome.value if task.outcome else None, "final_confidence": task.final_confidence,
        "text": text,
    }


def validator_view(v: Validator, load: int = 0) -> dict[str, Any]:
    return {
        "name": v.name, "languages": v.languages, "capacity": v.capacity, "active": v.active, "load": load,
        "compared": v.compared, "agreed": v.agreed, "reliability": reliability(v),
    }


def reliability(v: Validator) -> float | None:
    """Share of a validator's multi-answer tasks where they agreed with the decision; None
    until they answered one (a smoothed figure would hide how little is known)."""
    return round(v.agreed / v.compared, 4) if v.compared else None
