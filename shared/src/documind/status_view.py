"""How a document's progress is shown: the stored status and stage rows (db.models) mapped
onto the phases people name — received, validating, extracting, chunking, handed to
embedding, embedding, indexing, indexed, then completed / failed / cancelled — with percent
progress inside the long phases and the age of the last heartbeat. Stored values are not
changed; this is display only (``documind status``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from documind.db.models import DocumentStatus, StageName, StageState, utcnow

PHASES = (
    "received",
    "validating",
    "extracting",
    "chunking",
    "handed to embedding",
    "embedding",
    "indexing",
    "indexed",
    "completed",
    "failed",
    "cancelled",
    "deleted",
)

_EARLY = {StageName.VALIDATE: "validating", StageName.EXTRACT: "extracting", StageName.CHUNK: "chunking"}
STAGE_LABELS = {
    StageName.VALIDATE: "validating",
    StageName.EXTRACT: "extracting",
    StageName.CHUNK: "chunking",
    StageName.EMBED: "embedding",
    StageName.INDEX: "indexing",
}


@dataclass(frozen=True)
class PhaseView:
    phase: str
    stage: StageName | None  # the stage row the progress and heartbeat come from
    done: int | None
    total: int | None
    heartbeat_age_s: float | None

    @property
    def percent(self) -> float | None:
        if not self.total or self.done is None:
            return None
        return round(100.0 * min(self.done, self.total) / self.total, 1)

    def progress(self) -> dict[str, Any] | None:
        if self.total is None:
            return None
        return {"done": self.done, "total": self.total, "percent": self.percent}


def _age(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else round(max(0.0, (now - at).total_seconds()), 1)


def phase_of(doc: Any, now: datetime | None = None) -> PhaseView:
    """The phase of a document (a ``Document`` with its ``stages`` loaded)."""
    now = now or utcnow()
    status: DocumentStatus = doc.status
    if status is not DocumentStatus.PROCESSING and status is not DocumentStatus.RECEIVED:
        return PhaseView(status.value, doc.stage, None, None, None)
    stages = {s.name: s for s in doc.stages}
    if status is DocumentStatus.RECEIVED or doc.stage is None:
        return PhaseView("received", None, None, None, None)
    if doc.stage in _EARLY:
        row = stages.get(doc.stage)
        return PhaseView(_EARLY[doc.stage], doc.stage, None, None, _age(row.heartbeat_at if row else None, now))
    # Embedding and indexing overlap (each embedded range is indexed at once), and the
    # document's ``stage`` flips between them: read the two rows instead.
    embed, index = stages.get(StageName.EMBED), stages.get(StageName.INDEX)
    if index is not None and index.units_total and index.units_done >= index.units_total:
        return PhaseView("indexed", StageName.INDEX, index.units_done, index.units_total, _age(index.heartbeat_at, now))
    if embed is not None and embed.state is not StageState.DONE:
        phase = "handed to embedding" if embed.state is StageState.PENDING and not embed.units_done else "embedding"
        return PhaseView(phase, StageName.EMBED, embed.units_done, embed.units_total, _age(embed.heartbeat_at, now))
    if index is not None:
        return PhaseView("indexing", StageName.INDEX, index.units_done, index.units_total, _age(index.heartbeat_at, now))
    total = embed.units_total if embed is not None else None
    return PhaseView("indexing", StageName.INDEX, 0 if total is not None else None, total,
                     _age(embed.heartbeat_at if embed else None, now))


def stage_dict(stage: Any, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    total = stage.units_total
    return {
        "name": stage.name.value,
        "label": STAGE_LABELS.get(stage.name, stage.name.value),
        "state": stage.state.value,
        "attempt": stage.attempt,
        "units_done": stage.units_done,
        "units_total": total,
        "percent": round(100.0 * min(stage.units_done, total) / total, 1) if total else None,
        "heartbeat_at": stage.heartbeat_at.isoformat() + "Z" if stage.heartbeat_at else None,
        "heartbeat_age_s": _age(stage.heartbeat_at, now) if stage.state is StageState.RUNNING else None,
        "error": stage.error,
    }


def view_fields(doc: Any, now: datetime | None = None) -> dict[str, Any]:
    """The display fields ``documind status --json`` adds to a document (stable keys)."""
    view = phase_of(doc, now)
    return {
        "phase": view.phase,
        "progress": view.progress(),
        "heartbeat_age_s": view.heartbeat_age_s,
        "final": doc.status.is_final,
    }


def progress_text(view: PhaseView) -> str:
    if view.total is None:
        return ""
    pct = f" ({view.percent:.0f}%)" if view.percent is not None else ""
    return f"{view.done}/{view.total}{pct}"
