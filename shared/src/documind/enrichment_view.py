"""What ``documind show`` prints: a document's status, labels, entities, sentiment, quality and
confidence (from the embed stage's tables), and with ``chunks`` the same per chunk. Reads only
the document's current generation; a deleted or cancelled document shows its status and no
figures (the deletion drops them, and rows left by an older release are not shown either)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from documind.db.models import (
    Chunk, ChunkEnrichment, ChunkEntity, ChunkValidation, Document, DocumentEnrichment, DocumentStatus,
)

REMOVED = (DocumentStatus.DELETED, DocumentStatus.CANCELLED)


def entity_dict(e: ChunkEntity) -> dict[str, Any]:
    return {"type": e.type, "text": e.text, "value": e.value, "start": e.start, "end": e.end, "source": e.source}


def validation_dict(v: ChunkValidation) -> dict[str, Any]:
    return {
        "verdict": v.verdict, "labels": v.labels, "labels_corrected": v.labels_corrected,
        "labels_confirmed": v.labels is not None and v.verdict != "reject", "entities_confirmed": v.entities_confirmed,
        "confidence": v.confidence, "confirmed_by": v.confirmed_by, "confirmed_at": v.confirmed_at.isoformat() + "Z",
        "task_id": v.task_id,
    }


def document_view(s: Session, doc: Document, *, with_chunks: bool) -> dict[str, Any]:
    gen = doc.generation
    removed = doc.status in REMOVED
    meta = {} if removed else doc.metadata_ or {}
    record = None if removed else s.get(DocumentEnrichment, doc.id)
    if record is not None and record.generation != gen:
        record = None  # an earlier generation's figures
    entities = [] if removed else s.scalars(
        select(ChunkEntity)
        .where(ChunkEntity.document_id == doc.id, ChunkEntity.generation == gen)
        .order_by(ChunkEntity.idx, ChunkEntity.start)
    ).all()
    distinct: dict[tuple[str, str], dict[str, Any]] = {}
    for e in entities:
        item = distinct.setdefault((e.type, e.value), {"type": e.type, "value": e.value, "text": e.text, "chunks": []})
        if e.idx not in item["chunks"]:
            item["chunks"].append(e.idx)
    data: dict[str, Any] = {
        "id": doc.id,
        "tenant": doc.tenant,
        "source_name": doc.source_name,
        "status": doc.status.value,
        "generation": gen,
        "chunk_count": doc.chunk_count,
        "labels": meta.get("labels") or [],
        "classification": meta.get("classification"),
        "entities": sorted(distinct.values(), key=lambda d: (d["type"], d["value"])),
        "sentiment": None if record is None else {"compound": record.sentiment, "label": record.sentiment_label},
        "quality": None if record is None else record.quality,
        # People's decisions folded in (documind.validation.writeback) once any was made.
        "confidence": doc.validated_confidence if doc.validated_confidence is not None
        else None if record is None else record.confidence,
        "machine_confidence": None if record is None else record.confidence,
        "validated_at": None if doc.validated_at is None else doc.validated_at.isoformat() + "Z",
        "low_confidence_chunks": None if record is None else record.low_confidence_chunks,
        "review_sent_at": None if record is None or record.review_sent_at is None else record.review_sent_at.isoformat() + "Z",
        "enriched": record is not None,
    }
    if with_chunks and removed:
        data["chunks"] = []
    elif with_chunks:
        by_chunk: dict[int, list[dict[str, Any]]] = {}
        for e in entities:
            by_chunk.setdefault(e.idx, []).append(entity_dict(e))
        rows = s.execute(
            select(Chunk.idx, Chunk.page_start, Chunk.text, ChunkEnrichment, Chunk.classification, ChunkValidation)
            .outerjoin(ChunkEnrichment, ChunkEnrichment.chunk_id == Chunk.id)
            .outerjoin(ChunkValidation, (ChunkValidation.chunk_id == Chunk.id)
                       & (ChunkValidation.generation == Chunk.generation))
            .where(Chunk.document_id == doc.id, Chunk.generation == gen)
            .order_by(Chunk.idx)
        ).all()
        data["chunks"] = [
            {
                "idx": idx, "page": page, "chars": len(text or ""),
                "entities": by_chunk.get(idx, []),
                "sentiment": None if en is None else {"compound": en.sentiment, "label": en.sentiment_label},
                "quality": None if en is None else en.quality,
                "confidence": None if en is None else en.confidence,
                "machine_confidence": None if en is None else (
                    en.machine_confidence if en.machine_confidence is not None else en.confidence),
                "reasons": None if en is None else en.reasons,
                "classification": classification,
                "validation": None if val is None else validation_dict(val),
            }
            for idx, page, text, en, classification, val in rows
        ]
    return data
