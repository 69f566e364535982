"""How a chunk row becomes a Qdrant point: one place, used by index updates and by index
repair/re-indexing alike, so every path writes the same id, vectors and payload."""

from __future__ import annotations

import numpy as np

from documind.db.models import Chunk, Document
from documind.vectors import point_id

from documind_search.vector_index import Point


def build_points(doc: Document, chunks: list[Chunk], model: str) -> list[Point]:
    return [
        Point(
            id=point_id(doc.id, c.idx, model),
            vector=np.frombuffer(c.embedding, dtype=np.float32).tolist(),
            payload={
                "tenant": doc.tenant, "document_id": doc.id, "chunk_id": c.id, "chunk_index": c.idx,
                "text": c.text, "source_name": doc.source_name, "page": c.page_start,
                "generation": doc.generation,
            },
        )
        for c in chunks
        if c.embedding is not None
    ]
