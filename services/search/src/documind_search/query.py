"""Queries: dense search, always filtered by tenant; hits whose document is not completed
(deleted, failed, re-processing) are dropped against the database, so search never returns
a chunk the database does not vouch for."""

from __future__ import annotations

import time
from dataclasses import dataclass

from documind.contracts import SearchQuery
from documind.embedding import Encoder

from documind_search.live import live_generations
from documind_search.vector_index import VectorIndex


@dataclass
class QueryService:
    sessions: object
    encoder: Encoder
    index: VectorIndex

    def search(self, q: SearchQuery) -> dict:
        started = time.monotonic()
        if q.model is not None:
            self.index.check_model(q.model)
        if self.encoder.model_name != self.index.model:
            self.index.check_model(self.encoder.model_name)
        vector = self.encoder.encode([q.query])[0].tolist()
        # Over-fetch a little so hits dropped by the status check do not shorten the list.
        raw = self.index.search(vector, tenant=q.tenant, limit=q.top_k * 2 + 10, document_ids=q.document_ids)
        live = self._live_generations({h.payload.get("document_id") for h in raw})
        hits = []
        for h in raw:
            doc_id = h.payload.get("document_id")
            if live.get(doc_id) != h.payload.get("generation"):
                continue
            hits.append(
                {
                    "document_id": doc_id,
                    "source_name": h.payload.get("source_name"),
                    "chunk_id": h.payload.get("chunk_id"),
                    "chunk_index": h.payload.get("chunk_index"),
                    "page": h.payload.get("page"),
                    "score": round(h.score, 6),
                    "text": h.payload.get("text"),
                }
            )
            if len(hits) == q.top_k:
                break
        return {
            "query": q.query,
            "tenant": q.tenant,
            "model": self.index.model,
            "took_ms": round((time.monotonic() - started) * 1000, 2),
            "hits": hits,
        }

    def _live_generations(self, doc_ids: set) -> dict[str, int]:
        return live_generations(self.sessions, doc_ids)
