"""A decision written back onto the chunk and its document, in the deciding transaction.

- **Confirmation**: one ``chunk_validations`` row per chunk (the latest decision): who, when,
  the verdict, the labels the person confirmed (an approval confirms the chunk's label, or
  names its own) or corrected, and whether the entities were confirmed (an approval or a
  labels-only correction confirms them; new text gets its entities extracted again by the
  embed service, so they are the machine's, not confirmed).
- **Labels**: a correction with labels replaces ``chunks.classification`` (score 1.0,
  ``validated``) and adds the labels the document lacked to ``metadata["labels"]``; the
  caller then asks the search service to refresh the document's payload (``RefreshPayload``)
  so ``--label`` search follows.
- **Confidence folding**: the chunk's ``chunk_enrichment.confidence`` becomes the validated
  figure (approve or correct 1.0, reject 0.0), the AI stage's figure kept as
  ``machine_confidence``; the document's ``validated_confidence`` is recomputed from its
  chunks: the length-weighted mean of every chunk not rejected, with the validated figure for
  decided chunks, the chunk's own enrichment figure for the others, and the document's machine
  figure for chunks without enrichment. Re-enriching a corrected chunk (the embed service)
  calls :func:`fold_validated` so the validated figure survives."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from documind import audit
from documind.db.models import (
    Chunk, ChunkEnrichment, ChunkValidation, Document, DocumentEnrichment, ValidationTask, Verdict, utcnow,
)

VALIDATED = {Verdict.APPROVE: 1.0, Verdict.CORRECT: 1.0, Verdict.REJECT: 0.0}


@dataclass
class WriteBack:
    labels_changed: bool  # the document's labels changed: refresh its index payload
    labelled: bool  # the decision left validated labels (training data)


def confirm(
    s: Session, doc: Document, chunk: Chunk, task: ValidationTask, verdict: Verdict, labels: list | None,
    *, text_changed: bool, actor: str,
) -> WriteBack:
    confidence = VALIDATED[verdict]
    current = (chunk.classification or {}).get("name")
    corrected = verdict is Verdict.CORRECT and labels is not None
    if verdict is Verdict.REJECT:
        kept = None
    elif labels is not None:
        kept = _clean(labels)
    else:
        kept = [current] if current else None
    row = s.get(ChunkValidation, chunk.id)
    before = None if row is None else {"verdict": row.verdict, "labels": row.labels, "by": row.confirmed_by}
    if row is None:
        row = ChunkValidation(chunk_id=chunk.id)
        s.add(row)
    row.document_id, row.tenant, row.generation, row.idx = doc.id, doc.tenant, doc.generation, chunk.idx
    row.task_id, row.verdict, row.labels, row.labels_corrected = task.id, verdict.value, kept, corrected
    row.entities_confirmed = verdict is not Verdict.REJECT and not text_changed
    row.confidence, row.confirmed_by, row.confirmed_at = confidence, actor, utcnow()
    machine = _fold(s, chunk.id, confidence)
    labels_changed = False
    if corrected and kept:
        chunk.classification = {"name": kept[0], "score": 1.0, "validated": True}
        meta = dict(doc.metadata_ or {})
        doc_labels = list(meta.get("labels") or [])
        added = [lb for lb in kept if lb not in doc_labels]
        if added:
            meta["labels"] = doc_labels + added
            doc.metadata_ = meta  # a new dict: SQLAlchemy does not see in-place JSON changes
            labels_changed = True
            audit.record(s, actor=actor, entity_type="document", entity_id=doc.id, action="labels_corrected",
                         before={"labels": doc_labels}, after={"labels": meta["labels"]},
                         reason=f"chunk {chunk.idx} corrected by a person")
    audit.record(s, actor=actor, entity_type="chunk", entity_id=chunk.id, action=f"confirm:{verdict.value}",
                 before=before, after={"labels": kept, "labels_corrected": corrected,
                                       "entities_confirmed": row.entities_confirmed, "confidence": confidence,
                                       "machine_confidence": machine})
    return WriteBack(labels_changed, bool(kept))


def _clean(labels: Sequence) -> list[str]:
    out: list[str] = []
    for lb in labels:
        name = str(lb).strip()
        if name and name not in out:
            out.append(name)
    return out


def _fold(s: Session, chunk_id: str, confidence: float) -> float | None:
    """The chunk's enrichment figure becomes ``confidence``; returns the machine's figure."""
    en = s.get(ChunkEnrichment, chunk_id)
    if en is None:
        return None
    if en.machine_confidence is None:
        en.machine_confidence = en.confidence
    en.confidence = confidence
    return en.machine_confidence


def fold_validated(s: Session, chunk_ids: Sequence[str]) -> None:
    """After the embed service replaced these chunks' enrichment rows (corrected text): the
    new machine figure goes to ``machine_confidence``, the validated one stays in force."""
    if not chunk_ids:
        return
    s.flush()
    for row in s.scalars(select(ChunkValidation).where(ChunkValidation.chunk_id.in_(list(chunk_ids)))):
        en = s.get(ChunkEnrichment, row.chunk_id)
        if en is not None:
            en.machine_confidence, en.confidence = en.confidence, row.confidence


def document_confidence(s: Session, doc: Document) -> float:
    """The rule in the module doc: length-weighted over the current generation's chunks."""
    s.flush()
    record = s.get(DocumentEnrichment, doc.id)
    fallback = record.confidence if record is not None and record.generation == doc.generation else None
    if fallback is None:
        fallback = s.scalar(select(ValidationTask.document_confidence).where(
            ValidationTask.document_id == doc.id, ValidationTask.generation == doc.generation).limit(1))
    rows = s.execute(
        select(func.length(Chunk.text), Chunk.rejected_at, ChunkValidation.confidence, ChunkEnrichment.confidence)
        .outerjoin(ChunkValidation, (ChunkValidation.chunk_id == Chunk.id)
                   & (ChunkValidation.generation == Chunk.generation))
        .outerjoin(ChunkEnrichment, ChunkEnrichment.chunk_id == Chunk.id)
        .where(Chunk.document_id == doc.id, Chunk.generation == doc.generation)
    ).all()
    total = weighted = 0.0
    for length, rejected_at, validated, enriched in rows:
        if rejected_at is not None:
            continue
        figure = validated if validated is not None else enriched if enriched is not None else fallback
        if figure is None:
            continue
        n = max(int(length or 0), 1)
        total += n
        weighted += figure * n
    return round(weighted / total, 4) if total else 0.0


def keep_corrected_labels(s: Session, doc: Document) -> None:
    """After the classifier wrote its labels (``documind labels classify``, a retrain): the
    labels people corrected stay on their chunks and on the document."""
    s.flush()
    rows = s.scalars(select(ChunkValidation).where(
        ChunkValidation.document_id == doc.id, ChunkValidation.generation == doc.generation,
        ChunkValidation.labels_corrected.is_(True), ChunkValidation.labels.is_not(None),
    )).all()
    if not rows:
        return
    meta = dict(doc.metadata_ or {})
    doc_labels = list(meta.get("labels") or [])
    for row in rows:
        chunk = s.get(Chunk, row.chunk_id)
        if chunk is not None and row.labels:
            chunk.classification = {"name": row.labels[0], "score": 1.0, "validated": True}
            doc_labels += [lb for lb in row.labels if lb not in doc_labels]
    meta["labels"] = doc_labels
    doc.metadata_ = meta
