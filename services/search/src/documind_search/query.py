"""Queries: dense, keyword (BM25) or hybrid retrieval, always filtered by tenant; hits whose
document is not completed (deleted, failed, re-processing) are dropped against the database,
so search never returns a chunk the database does not vouch for. A batch encodes all its
queries at once (the encoder batches them) and answers them in one message.

Queries are embedded with the model of the collection the alias points at when the query
starts, and searched in that very collection: a model swap (``model activate``) switching the
alias meanwhile can never pair a vector of one model with a collection of another; if the
collection was dropped in between, the query is planned again on the new one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from documind.contracts import SearchBatch, SearchOptions, SearchQuery
from documind.embedding import Encoder

from documind_search.filters import SearchFilters
from documind_search.live import live_generations
from documind_search.keywords import Tokenizer, default_tokenizer, query_vector
from documind_search.vector_index import CollectionGone, FusionMethod, Hit, SearchMode, VectorIndex

PLAN_ATTEMPTS = 3


@dataclass(frozen=True)
class RetrievalSettings:
    default_mode: SearchMode = SearchMode.HYBRID
    # DBSF measured better than RRF on full SciFact (nDCG@10 0.733 vs 0.714; bench.retrieval_eval).
    fusion: FusionMethod = FusionMethod.DBSF
    prefetch_limit: int = 100


@dataclass
class QueryService:
    sessions: object
    encoder: Encoder
    index: VectorIndex
    retrieval: RetrievalSettings = RetrievalSettings()
    tokenizer: Tokenizer | None = None
    # The encoder of a model name (the live collection's); None: always ``encoder``.
    encoders: Callable[[str], Encoder] | None = None
    # A model name -> the packaged model it was made from (a fine-tuned or exported version's
    # base; a packaged model itself). None: names are compared as they are.
    base_of: Callable[[str], str] | None = None

    def warm_up(self) -> None:
        """Load the model and open the index now (a worker's start), not on the first query."""
        (self.encoders(self.index.live()[1]) if self.encoders else self.encoder).encode(["warm up"])
        (self.tokenizer or default_tokenizer()).tokens("warm up")
        self.index.ensure()
        self.index.warm_mirror()

    def search(self, q: SearchQuery) -> dict:
        started = time.monotonic()
        mode = self._prepare(q)
        results, model = self._run([q.query], q, mode)
        hits = results[0]
        return {
            "query": q.query,
            "tenant": q.tenant,
            "mode": mode.value,
            "model": model,
            "took_ms": round((time.monotonic() - started) * 1000, 2),
            "hits": hits,
        }

    def search_batch(self, b: SearchBatch) -> dict:
        started = time.monotonic()
        mode = self._prepare(b)
        results, model = self._run([item.text for item in b.queries], b, mode)
        return {
            "tenant": b.tenant,
            "mode": mode.value,
            "model": model,
            "took_ms": round((time.monotonic() - started) * 1000, 2),
            "results": [{"id": item.id, "hits": hits} for item, hits in zip(b.queries, results)],
        }

    def _prepare(self, opts: SearchOptions) -> SearchMode:
        self.index.ensure()  # an outdated or foreign collection is refused before any encoding
        if opts.model is not None and not self._live_version_of(opts.model):
            self.index.check_model(opts.model)
        if self.encoders is None and self.encoder.model_name != self.index.model:
            self.index.check_model(self.encoder.model_name)
        return SearchMode(opts.mode) if opts.mode else self.retrieval.default_mode

    def _live_version_of(self, expected: str) -> bool:
        """Whether the live collection holds a version made from ``expected`` (the model a
        caller is configured with): after `model activate` the caller's queries are answered
        with the live version, as every query is."""
        if self.base_of is None:
            return False
        live = self.index.live()[1]
        return live != expected and self.base_of(live) == expected

    def _run(self, texts: list[str], opts: SearchOptions, mode: SearchMode) -> tuple[list[list[dict]], str]:
        """The hits of each text, and the model the queries were embedded with."""
        for attempt in range(PLAN_ATTEMPTS):
            if self.encoders is None:
                collection, encoder = None, self.encoder
            else:
                collection, model = self.index.live()
                encoder = self.encoders(model)
            try:
                return self._run_on(texts, opts, mode, encoder, collection), getattr(encoder, "model_name", self.index.model)
            except CollectionGone:
                if attempt == PLAN_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _run_on(
        self, texts: list[str], opts: SearchOptions, mode: SearchMode, encoder: Encoder, collection: str | None
    ) -> list[list[dict]]:
        filters = SearchFilters(
            tenant=opts.tenant,
            document_ids=tuple(opts.document_ids or ()),
            mime_types=tuple(opts.mime_types or ()),
            labels=tuple(opts.labels or ()),
            entities=tuple(opts.entities or ()),
            created_since=opts.created_since,
            created_until=opts.created_until,
        )
        dense = encoder.encode(texts) if mode is not SearchMode.KEYWORD else None
        tok = self.tokenizer or default_tokenizer()
        # Over-fetch a little so hits dropped by the status check do not shorten the list.
        limit = opts.top_k * 2 + 10
        raw = [
            self.index.search(
                filters=filters, limit=limit, mode=mode,
                dense=dense[i].tolist() if dense is not None else None,
                sparse=query_vector(text, tok) if mode is not SearchMode.DENSE else None,
                fusion=self.retrieval.fusion, prefetch_limit=max(self.retrieval.prefetch_limit, limit),
                collection=collection,
            )
            for i, text in enumerate(texts)
        ]
        live = self._live_generations({h.payload.get("document_id") for hits in raw for h in hits})
        return [self._vouched(hits, live, opts.top_k) for hits in raw]

    @staticmethod
    def _vouched(raw: list[Hit], live: dict[str, int], top_k: int) -> list[dict[str, Any]]:
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
            if len(hits) == top_k:
                break
        return hits

    def _live_generations(self, doc_ids: set) -> dict[str, int]:
        return live_generations(self.sessions, doc_ids)
