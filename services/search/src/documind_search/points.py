"""How a chunk row becomes a Qdrant point: one place, used by index updates and by index
repair/re-indexing alike, so every path writes the same id, vectors and payload."""

from __future__ import annotations

import numpy as np

from documind.db.models import Chunk, Document
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


def build_points(
    doc: Document, chunks: list[Chunk], model: str, bm25: Bm25Params = DEFAULT_BM25,
    tokenizer: Tokenizer | None = None,
) -> list[Point]:
    """Points of the embedded chunks: the dense vector from the chunk row, the BM25 sparse
    vector of its text, and the payload every filter and result needs. Id and payload take
    the row's generation: the point belongs to exactly the generation that wrote it."""
    shared = document_payload(doc)
    return [
        Point(
            id=point_id(doc.id, c.idx, model, generation=c.generation),
            vector=np.frombuffer(c.embedding, dtype=np.float32).tolist(),
            sparse=document_vector(c.text or "", bm25, tokenizer),
            payload={
                **shared, "chunk_id": c.id, "chunk_index": c.idx, "text": c.text, "page": c.page_start,
                "generation": c.generation,
            },
        )
        for c in chunks
        if c.embedding is not None
    ]
