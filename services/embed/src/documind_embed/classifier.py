"""The ``embed.classify_document`` actor: classify a completed document from its stored chunk
vectors, store the result on the document and its chunks, and ask the search service to put
the labels on the document's points.

Idempotent: a redelivery classifies the same vectors against the same taxonomy and writes the
same values. Fenced: the result is stored only while this generation is the document's
completed one (a deletion, cancellation or re-processing meanwhile drops it)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sqlalchemy import bindparam, select, update

from documind.contracts import ClassifyDocument, FinishEnrichment, RefreshPayload
from documind.db.engine import transaction
from documind.db.models import Chunk, Document, DocumentStatus
from documind.embedding import Encoder
from documind.errors import Fenced
from documind.label_model import load_model
from documind.logging import get_logger
from documind.runtime import Runtime
from documind.settings import Settings
from documind.taxonomy import LabelDef, list_labels, taxonomy_version
from documind.validation.writeback import keep_corrected_labels

from documind_embed.classification import Classification, Params, Taxonomy, classify

SERVICE = "embed"


def params_from(st: Settings) -> Params:
    return Params(
        min_score=st.classify_min_score, max_labels=st.classify_max_labels,
        temperature=st.classify_temperature, null_similarity=st.classify_null_similarity,
    )


@dataclass
class TaxonomyCache:
    """Label vectors per (tenant, taxonomy version, model): the descriptions are embedded once
    per taxonomy change, not once per document. Keyed by content hash, so an edit is never
    served stale; old versions are dropped when a tenant's version changes."""

    encoder: Encoder
    _vectors: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def taxonomy(self, tenant: str, labels: list[LabelDef]) -> Taxonomy:
        version = taxonomy_version(labels)
        key = f"{version}:{self.encoder.model_name}"
        with self._lock:
            cached = self._vectors.get(tenant)
        if cached is None or cached[0] != key:
            # "name: description" reads like a sentence about the label, which is what the
            # encoder was trained to compare; the description alone loses short names' meaning.
            texts = [f"{lb.name}: {lb.description}" for lb in labels]
            vectors = self.encoder.encode(texts) if labels else np.zeros((0, self.encoder.dimension), np.float32)
            cached = (key, vectors)
            with self._lock:
                self._vectors[tenant] = cached
        return Taxonomy(tenant, tuple(labels), cached[1], version)


@dataclass
class DocumentClassifier:
    runtime: Runtime
    encoder: Encoder
    # The active model version's encoder (``documind model activate``); None: ``encoder``.
    # Label vectors must live in the space of the chunk vectors they are compared with.
    active: Callable[[], Encoder] | None = None
    _caches: dict[str, TaxonomyCache] = field(default_factory=dict, init=False)
    _caches_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def _cache(self, encoder: Encoder) -> TaxonomyCache:
        with self._caches_lock:
            return self._caches.setdefault(encoder.model_name, TaxonomyCache(encoder))

    def classify_document(self, work: ClassifyDocument) -> dict:
        rt = self.runtime
        started = time.monotonic()
        encoder = self.active() if self.active is not None else self.encoder
        doc_id, gen = work.document_id, work.generation
        with rt.sessions() as s:
            doc = _completed(s, doc_id, gen)
            tenant, lane = doc.tenant, doc.lane
            rows = s.execute(
                select(Chunk.idx, Chunk.text, Chunk.embedding)
                .where(
                    Chunk.document_id == doc_id, Chunk.generation == gen,
                    Chunk.embedding.is_not(None), Chunk.embedding_model == encoder.model_name,
                )
                .order_by(Chunk.idx)
            ).all()
        labels = list_labels(rt.sessions, tenant)
        taxonomy = self._cache(encoder).taxonomy(tenant, labels)
        model = load_model(rt.sessions, tenant, encoder.model_name) if labels else None
        vectors = (
            np.stack([np.frombuffer(v, dtype=np.float32) for _, _, v in rows])
            if rows else np.zeros((0, encoder.dimension), np.float32)
        )
        result = classify(
            taxonomy, [t for _, t, _ in rows], vectors, params=params_from(rt.settings), model=model,
            chunk_indexes=[i for i, _, _ in rows],
        )
        # The vector space it was classified in: a supervised model applies only to its own.
        stored = {**result.metadata(), "embedding_model": encoder.model_name}
        enriched = self._store(doc_id, gen, result, stored)
        rt.bus.send(RefreshPayload(document_id=doc_id, generation=gen, tenant=tenant))
        if rt.settings.enrichment_enabled and enriched:
            # The document's confidence counts the classifier margin (embed README), and its
            # figures were made without it: figure them again (the review hand-off is not sent
            # twice). Not yet enriched: the pending finish reads the margin stored here, and a
            # second finish now would enrich the same chunks twice over.
            rt.bus.send(FinishEnrichment(document_id=doc_id, generation=gen, tenant=tenant, lane=lane))
        rt.metrics.stage_seconds.labels(SERVICE, "classify").observe(time.monotonic() - started)
        get_logger("documind.embed").info(
            "document classified", document_id=doc_id, labels=result.names, method=result.method
        )
        return stored

    def _store(self, doc_id: str, gen: int, result: Classification, stored: dict) -> bool:
        """The labels and scores on the document, each chunk's top label on its row, in one
        transaction behind the fence (the document row locked). Returns whether the
        generation's enrichment was finished already: under the row lock, a finish either
        committed before (True) or reads this margin after."""
        table = Chunk.__table__
        with transaction(self.runtime.sessions) as s:
            doc = _completed(s, doc_id, gen, lock=True)
            # A new dict: SQLAlchemy does not see in-place changes of a JSON column.
            meta = dict(doc.metadata_ or {})
            meta["labels"] = result.names
            meta["classification"] = stored
            doc.metadata_ = meta
            s.execute(
                update(table).where(table.c.document_id == doc_id, table.c.generation == gen)
                .values(classification=None)
            )
            if result.chunks:
                s.execute(
                    update(table)
                    .where(table.c.document_id == bindparam("d"), table.c.generation == bindparam("g"),
                           table.c.idx == bindparam("i"))
                    .values(classification=bindparam("c")),
                    [
                        {"d": doc_id, "g": gen, "i": c.idx, "c": {"name": c.name, "score": round(c.score, 4)}}
                        for c in result.chunks
                    ],
                )
            keep_corrected_labels(s, doc)  # a person's corrected labels outrank the classifier's
            return doc.enriched_generation == gen


def _completed(s, doc_id: str, gen: int, *, lock: bool = False) -> Document:  # noqa: ANN001
    query = select(Document).where(Document.id == doc_id)
    if lock:
        query = query.with_for_update()
    doc = s.scalar(query)
    if doc is None or doc.deleted_at is not None:
        raise Fenced(f"document {doc_id} does not exist")
    if doc.generation != gen:
        raise Fenced(f"document {doc_id} generation {gen} superseded by {doc.generation}")
    if doc.status is not DocumentStatus.COMPLETED:
        raise Fenced(f"document {doc_id} is {doc.status.value}, not completed: not classifying it")
    return doc
