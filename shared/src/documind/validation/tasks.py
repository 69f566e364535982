"""Opening validation tasks from ``ReviewChunks``: exactly one task per (document,
generation, chunk), by a unique constraint and an insert that skips conflicts, so a
redelivered or re-sent message opens nothing twice; a newer generation supersedes the
older generation's unanswered tasks."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from documind import audit
from documind.contracts import LANE_PRIORITY, ReviewChunks
from documind.db.models import Chunk, Document, DocumentStatus, TaskStatus, ValidationTask, utcnow
from documind.errors import Fenced

ACTOR = "validate.review_chunks"
UNANSWERED = (TaskStatus.OPEN, TaskStatus.ASSIGNED)


def priority(lane, confidence: float) -> float:  # noqa: ANN001
    """Lower first: every interactive task before any bulk one, then the least confident."""
    return LANE_PRIORITY[lane] + confidence


def _insert(session: Session):  # noqa: ANN202
    """The dialect's INSERT with ON CONFLICT (both Postgres and SQLite have it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(ValidationTask)


def open_tasks(session: Session, work: ReviewChunks, *, threshold: float, required_answers: int) -> list[int]:
    """Open the tasks of one message in the caller's transaction; returns the new task ids.

    Only a completed document of the message's generation gets tasks (a deleted, failed or
    re-processed one raises ``Fenced``: the message is moot). Chunks at or above
    ``threshold`` and indexes the generation does not have are skipped."""
    doc = session.scalar(select(Document).where(Document.id == work.document_id).with_for_update())
    if doc is None or doc.generation != work.generation or doc.status is not DocumentStatus.COMPLETED:
        state = "missing" if doc is None else f"{doc.status.value}, generation {doc.generation}"
        raise Fenced(f"document {work.document_id} generation {work.generation} cannot be reviewed ({state})")
    superseded = session.execute(
        update(ValidationTask)
        .where(ValidationTask.document_id == doc.id, ValidationTask.generation < doc.generation,
               ValidationTask.status.in_(UNANSWERED))
        .values(status=TaskStatus.SUPERSEDED, assigned_to=None)
    ).rowcount
    wanted = {c.idx: c for c in work.chunks if c.confidence < threshold}
    existing = set(session.scalars(
        select(Chunk.idx).where(Chunk.document_id == doc.id, Chunk.generation == doc.generation,
                                Chunk.idx.in_(sorted(wanted)), Chunk.rejected_at.is_(None))
    )) if wanted else set()
    rows = [
        {
            "document_id": doc.id, "tenant": doc.tenant, "generation": doc.generation, "chunk_idx": idx,
            "language": (doc.metadata_ or {}).get("language"), "confidence": c.confidence,
            "document_confidence": work.document_confidence, "reasons": list(c.reasons), "lane": work.lane,
            "priority": priority(work.lane, c.confidence), "status": TaskStatus.OPEN,
            "required_answers": required_answers, "created_at": utcnow(),
        }
        for idx, c in sorted(wanted.items()) if idx in existing
    ]
    if not rows:
        return []
    stmt = _insert(session).values(rows).on_conflict_do_nothing(
        index_elements=["document_id", "generation", "chunk_idx"]
    ).returning(ValidationTask.id, ValidationTask.chunk_idx)
    created = session.execute(stmt).all()
    for task_id, idx in created:
        audit.record(
            session, actor=ACTOR, entity_type="task", entity_id=str(task_id), action="open",
            after={"document_id": doc.id, "generation": doc.generation, "chunk_index": idx,
                   "confidence": wanted[idx].confidence, "status": "open"},
            reason="; ".join(wanted[idx].reasons) or "confidence below the validation threshold",
        )
    if created:
        doc.validated_at = None  # new unanswered tasks: no longer fully validated
        doc.validated_confidence = None
    if superseded:
        audit.record(session, actor=ACTOR, entity_type="document", entity_id=doc.id, action="tasks_superseded",
                     after={"generation": doc.generation, "tasks": superseded})
    return [task_id for task_id, _ in created]
