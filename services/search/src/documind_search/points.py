"""How a chunk row becomes a Qdrant point: one place, used by index updates and by index
repair/re-indexing alike, so every path writes the same id, vectors and payload."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import object_session

from documind.db.models import Chunk, ChunkEntity, Document
from documind.entity_keys import entity_key
from documind.vectors import point_id

from documind_search.filters import payload_timestamp
from documind_search.keywords import Bm25Params, Tokenizer, document_vector
from documind_search.vector_index import Point

DEFAULT_BM25 = Bm25Params()


def document_labels(doc: Document) -> list[str]:
    """Labels from the document's metadata (``metadata["labels"]``, set by classification)."""
    raw = (doc.metadata_ or {}).get("labels") or []
    if isinstance(raw, str):
        raw = [raw]
    return sorted({str(x) for x in raw if str(x).strip()})


def document_payload(doc: Document) -> dict:
    """The payload fields every point of a document shares (derived from the document row):
    what ``RefreshPayload`` sets again on existing points when the row changes (labels)."""
    return {
        "tenant": doc.tenant, "document_id": doc.id, "source_name": doc.source_name,
        "mime_type": doc.mime_type, "labels": document_labels(doc),
        "created_at": payload_timestamp(doc.created_at) if doc.created_at else None,
    }


def chunk_entity_keys(chunks: list[Chunk]) -> dict[str, list[str]]:
    """Chunk id -> its entities as ``TYPE:value`` keys (documind.entity_keys), read in one
    query through the session the chunk rows came from (the embed stage stored them)."""
    session = object_session(chunks[0]) if chunks else None
    if session is None:
        return {}
    keys: dict[str, set[str]] = {}
    rows = session.execute(
        select(ChunkEntity.chunk_id, ChunkEntity.type, ChunkEntity.value)
        .where(ChunkEntity.chunk_id.in_([c.id for c in chunks]))
    )
    for chunk_id, kind, value in rows:
        keys.setdefault(chunk_id, set()).add(entity_key(kind, value))
    return {cid: sorted(v) for cid, v in keys.items()}


def build_points(
    doc: Document, chunks: list[Chunk], model: str, bm25: Bm25Params = DEFAULT_BM25,
    tokenizer: Tokenizer | None = None,
) -> list[Point]:
    """Points of the embedded chunks: the dense vector from the chunk row, the BM25 sparse
    vector of its text, and the payload every filter and result needs. Id and payload take
    the row's generation: the point belongs to exactly the generation that wrote it."""
    shared = document_payload(doc)
    entities = chunk_entity_keys(chunks)
    return [
        Point(
            id=point_id(doc.id, c.idx, model, generation=c.generation),
            vector=np.frombuffer(c.embedding, dtype=np.float32).tolist(),
            sparse=document_vector(c.text or "", bm25, tokenizer),
            payload={
                **shared, "chunk_id": c.id, "chunk_index": c.idx, "text": c.text, "page": c.page_start,
                "generation": c.generation, "entities": entities.get(c.id, []),
            },
        )
        for c in chunks
        if c.embedding is not None
    ]
