"""Embedding one range of a document's chunks. Vectors are stored on the chunk rows in the
database (float32 bytes): the search service indexes them from there, and a later re-index
into a new collection needs no re-parse (docs/design.md rule 5).

Enrichment (entities, sentiment, quality) is not on this path: it runs once the document is
searchable (``embed.finish_enrichment``, enrichment.py). Only a validator's correction of a
searchable chunk (``revise``) enriches here, because its new text replaces the old at once."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from sqlalchemy import bindparam, func, select, update

from documind.contracts import EmbedChunks, IndexChunks
from documind.db.models import Chunk, StageName, utcnow
from documind.embedding import Encoder
from documind.errors import InconsistentChunks
from documind.runtime import Runtime
from documind.validation.writeback import fold_validated

from documind_embed.enrichment import ChunkEnricher, ChunkText, store_findings

SERVICE = "embed"


@dataclass
class ChunkEmbedder:
    runtime: Runtime
    encoder: Encoder
    # Entities, sentiment, quality of a corrected chunk (None: DOCUMIND_ENRICHMENT_ENABLED is
    # off). A callable, so the spaCy model loads on first use, not at start-up.
    enricher: Callable[[], ChunkEnricher] | None = None
    # The active model version's encoder (``documind model activate``); None: ``encoder``.
    active: Callable[[], Encoder] | None = None

    def embed(self, work: EmbedChunks) -> int:
        rt = self.runtime
        doc_id, gen = work.document_id, work.generation
        encoder = self.active() if self.active is not None else self.encoder
        model = encoder.model_name
        started = time.monotonic()
        if work.revision:
            return self.revise(work)
        rt.status.begin_stage(doc_id, gen, StageName.EMBED)
        with rt.sessions() as s:
            rows = s.execute(
                select(Chunk.id, Chunk.text)
                .where(
                    Chunk.document_id == doc_id,
                    Chunk.generation == gen,
                    Chunk.idx >= work.start,
                    Chunk.idx < work.end,
                    # Redelivered ranges skip what is done already (idempotent, docs/design.md rule 3).
                    (Chunk.embedding.is_(None)) | (Chunk.embedding_model != model),
                )
                .order_by(Chunk.idx)
            ).all()
        vectors = None
        if rows:
            with rt.status.heartbeat(doc_id, StageName.EMBED, rt.settings.heartbeat_interval_s, gen):
                vectors = encoder.encode([r.text for r in rows])
        self._store(doc_id, gen, [r.id for r in rows], vectors, model)
        rt.metrics.stage_seconds.labels(SERVICE, "embed").observe(time.monotonic() - started)
        rt.metrics.chunks_processed.labels("embed").inc(len(rows))
        rt.bus.send(
            IndexChunks(
                document_id=doc_id, generation=gen, start=work.start, end=work.end, lane=work.lane, tenant=work.tenant
            )
        )
        return len(rows)

    def revise(self, work: EmbedChunks) -> int:
        """A completed document's changed chunks (a validator's correction): embed them and
        hand them to the search service, without touching the document's stages or status.
        A vector is stored only if the text it was computed from is still the chunk's (a
        second correction meanwhile sends its own message)."""
        rt = self.runtime
        encoder = self.active() if self.active is not None else self.encoder
        doc_id, gen, model = work.document_id, work.generation, encoder.model_name
        with rt.sessions() as s:
            rt.status.revision_guard(s, doc_id, gen)
            rows = s.execute(
                select(Chunk.id, Chunk.idx, Chunk.text, Chunk.token_count).where(
                    Chunk.document_id == doc_id, Chunk.generation == gen,
                    Chunk.idx >= work.start, Chunk.idx < work.end, Chunk.rejected_at.is_(None),
                    (Chunk.embedding.is_(None)) | (Chunk.embedding_model != model),
                ).order_by(Chunk.idx)
            ).all()
        if rows:
            vectors = encoder.encode([r.text for r in rows])
            # The corrected text's entities, sentiment and quality replace the old text's (the
            # point payload carries the entities, so they must be current before indexing).
            findings = (
                self.enricher().enrich([ChunkText(r.id, r.idx, r.text, r.token_count) for r in rows])
                if self.enricher is not None else []
            )
            table = Chunk.__table__
            stmt = (
                update(table)
                .where(table.c.id == bindparam("cid"), table.c.text == bindparam("seen"))
                .values(embedding=bindparam("vec"), embedding_model=model, embedded_at=utcnow())
            )
            with rt.status.revision(doc_id, gen) as s:
                s.execute(stmt, [{"cid": r.id, "seen": r.text, "vec": vec.tobytes()}
                                 for r, vec in zip(rows, vectors)])
                store_findings(s, doc_id, gen, findings)
                fold_validated(s, [f.chunk.chunk_id for f in findings])  # a person's figure stays in force
            rt.metrics.chunks_processed.labels("embed").inc(len(rows))
        rt.bus.send(IndexChunks(
            document_id=doc_id, generation=gen, start=work.start, end=work.end, lane=work.lane,
            tenant=work.tenant, revision=True,
        ))
        return len(rows)

    def _store(self, doc_id: str, gen: int, ids: list[str], vectors: np.ndarray | None, model: str) -> None:
        """Behind the fence, in one transaction: the vectors onto their chunk rows, the stage's
        progress, and the stage finished when this range was the last."""
        table = Chunk.__table__
        stmt = (
            update(table)
            .where(table.c.id == bindparam("cid"))
            .values(embedding=bindparam("vec"), embedding_model=model, embedded_at=utcnow())
        )
        with self.runtime.status.step(doc_id, gen) as step:
            s = step.session
            if vectors is not None:
                s.execute(stmt, [{"cid": cid, "vec": vec.tobytes()} for cid, vec in zip(ids, vectors)])
            base = select(func.count()).where(Chunk.document_id == doc_id, Chunk.generation == gen)
            total = int(s.scalar(base) or 0)
            expected = step.document.chunk_count
            if expected is not None and total != expected:
                # Rows vanished (or appeared) after the hand-off: finishing here would let the
                # document complete with chunks that are not there.
                raise InconsistentChunks(
                    f"document {doc_id} has {total} chunk rows but chunk_count {expected}: not embedding it"
                )
            done = int(s.scalar(base.where(Chunk.embedding_model == model)) or 0)
            step.progress(StageName.EMBED, done, total)
            if done >= total:
                step.finish(StageName.EMBED)
