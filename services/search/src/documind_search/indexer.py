"""Index updates: upsert a range of embedded chunks with deterministic point ids; when the
last range lands, remove older generations' points and mark the document completed. Deletion
removes every point; the fence is re-checked after each write, so a deletion that raced an
upsert still wins (docs/design.md rule 4).

Point ids carry the generation (``documind.vectors.point_id``): a generation fenced off by a
re-processing can never overwrite the new generation's points, and what it wrote late is taken
back by id (issue 10 item 8). Search shows only points of the document's current generation.

A point's dense vector always comes from the model of the collection it is written to: chunk
rows embedded with another model (the embed stage still used the old model while
``model activate`` switched the live collection) are re-embedded here from their stored text
with the live model (``reembed``), and the upsert re-checks the live model under the index
lock, so a switch between building the points and writing them makes them rebuilt."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import func, select, update

from documind.contracts import ClassifyDocument, DeleteDocument, FinishEnrichment, IndexChunks
from documind.db.models import Chunk, Document, DocumentStatus, StageName, utcnow
from documind.errors import Fenced, InconsistentChunks
from documind.logging import get_logger
from documind.runtime import Runtime
from documind.status import StatusStore
from documind.vectors import point_id

from documind_search.keywords import Bm25Params
from documind_search.points import DEFAULT_BM25, build_points
from documind_search.vector_index import VectorIndex

SERVICE = "search"


def clear_outbox(s, indexed: list[str], rejected: list[str]) -> None:  # noqa: ANN001
    """The correction outbox (``chunks.revision_pending_at``) is done for chunks now indexed
    with their current vector and for rejected ones whose point is gone; a corrected chunk
    still waiting for its vector stays pending (its first, vector-less revision only dropped
    the old point)."""
    done = indexed + rejected
    if done:
        s.execute(update(Chunk).where(Chunk.id.in_(done), Chunk.revision_pending_at.is_not(None))
                  .values(revision_pending_at=None))


@dataclass
class Indexer:
    runtime: Runtime
    index: VectorIndex
    bm25: Bm25Params = DEFAULT_BM25
    # (chunk rows, model name) -> the rows re-embedded with that model and stored; None: rows
    # of another model are skipped (tools and tests with one fixed model).
    reembed: Callable[[list[Chunk], str], None] | None = None

    def index_chunks(self, work: IndexChunks) -> int:
        rt = self.runtime
        doc_id, gen = work.document_id, work.generation
        started = time.monotonic()
        if work.revision:
            return self.revise(work)
        rt.status.begin_stage(doc_id, gen, StageName.INDEX)
        for _attempt in range(3):
            rows, points, tenant, created_at, may_have_older, model = self._points(work)
            with self.index.lock:
                if self.reembed is not None and self.index.live()[1] != model:
                    continue  # the live collection changed model meanwhile: rebuild
                if points:
                    self.index.upsert(points)
            break
        else:
            raise RuntimeError(f"the live collection kept changing model while indexing document {doc_id}")
        if points:
            rt.versions.bump(tenant)  # the tenant's index changed: cached answers are void
        try:
            done, total = self._record_indexed(doc_id, gen, [c.id for c in rows])
        except Fenced:
            self._withdraw(doc_id, gen, tenant, [p.id for p in points])
            raise
        rt.metrics.stage_seconds.labels(SERVICE, "index").observe(time.monotonic() - started)
        rt.metrics.chunks_processed.labels("index").inc(len(points))
        if done >= total and self._finish(doc_id, gen, total, may_have_older=may_have_older):
            rt.metrics.time_to_searchable_seconds.observe((utcnow() - created_at).total_seconds())
            if rt.settings.classify_enabled:
                # After the completing transaction, by the one call that completed it: the
                # labels follow the document becoming searchable, never delay it. The
                # classifier sends FinishEnrichment again once its margin is stored.
                rt.bus.send(ClassifyDocument(document_id=doc_id, generation=gen, tenant=tenant))
            if rt.settings.enrichment_enabled:
                # After the completing transaction: the embed service aggregates the document's
                # enrichment and hands low-confidence chunks to validation (embed README).
                rt.bus.send(FinishEnrichment(
                    document_id=doc_id, generation=gen, lane=work.lane, tenant=tenant,
                ))
        return len(points)

    def _points(self, work: IndexChunks):  # noqa: ANN202 - a tuple of six
        rt = self.runtime
        doc_id, gen = work.document_id, work.generation
        model = self.index.live()[1] if self.reembed is not None else self.index.model
        with rt.sessions() as s:
            doc = StatusStore.guard(s, doc_id, gen)
            tenant, created_at = doc.tenant, doc.created_at
            may_have_older = may_have_older_points(doc, gen)
            check_chunk_rows(doc, int(s.scalar(
                select(func.count()).where(Chunk.document_id == doc_id, Chunk.generation == gen)
            ) or 0))
            q = select(Chunk).where(
                Chunk.document_id == doc_id, Chunk.generation == gen,
                Chunk.idx >= work.start, Chunk.idx < work.end, Chunk.embedding.is_not(None),
            )
            if self.reembed is None:
                q = q.where(Chunk.embedding_model == model)
            rows = list(s.execute(q.order_by(Chunk.idx)).scalars().all())
            stale = [c for c in rows if c.embedding_model != model]
            if stale:
                self.reembed(stale, model)  # type: ignore[misc]
            points = build_points(doc, rows, model, self.bm25)
        return rows, points, tenant, created_at, may_have_older, model

    def revise(self, work: IndexChunks) -> int:
        """A completed document's chunks changed (a validator's correction or rejection):
        upsert the chunks of the range that have a current vector, delete the points of
        those that have none (a correction waiting for its vector: its old text must not be
        found meanwhile) or were rejected, and void the tenant's cached results. Behind
        ``StatusStore.revision``, re-checked after the write like the pipeline's path."""
        rt = self.runtime
        doc_id, gen = work.document_id, work.generation
        # The live collection's model (a model swap may have switched it since the embed step).
        model = self.index.live()[1] if self.reembed is not None else self.index.model
        with rt.sessions() as s:
            doc = StatusStore.revision_guard(s, doc_id, gen)
            tenant = doc.tenant
            rows = s.execute(
                select(Chunk).where(
                    Chunk.document_id == doc_id, Chunk.generation == gen,
                    Chunk.idx >= work.start, Chunk.idx < work.end,
                ).order_by(Chunk.idx)
            ).scalars().all()
            stale = [c for c in rows if c.rejected_at is None and c.embedding is not None and c.embedding_model != model]
            if stale and self.reembed is not None:
                self.reembed(stale, model)
            live = [c for c in rows if c.rejected_at is None and c.embedding is not None and c.embedding_model == model]
            gone = [point_id(doc_id, c.idx, model, generation=gen) for c in rows if c not in live]
            points = build_points(doc, live, model, self.bm25)
        if gone:
            self.index.delete_points(gone)
        if points:
            self.index.upsert(points)
        rt.versions.bump(tenant)  # after the index changed: no cached answer keeps the old text
        try:
            with rt.status.revision(doc_id, gen) as s:
                if live:
                    s.execute(update(Chunk).where(Chunk.id.in_([c.id for c in live])).values(indexed_at=utcnow()))
                clear_outbox(s, [c.id for c in live], [c.id for c in rows if c.rejected_at is not None])
        except Fenced:
            self._withdraw(doc_id, gen, tenant, [p.id for p in points])
            raise
        rt.metrics.chunks_processed.labels("index").inc(len(points))
        return len(points)

    def _finish(self, doc_id: str, gen: int, total: int, *, may_have_older: bool) -> bool:
        """The last range is indexed: complete the document. True for the call that did."""
        rt = self.runtime
        if may_have_older:
            # Earlier generations' points (and any written by a fenced one) go; never a later
            # generation's, which may be indexing already. (A filtered delete scans the whole
            # collection in local mode: skip it when it is certain there is nothing to drop.)
            self.index.delete_document(doc_id, before_generation=gen)
        try:
            rt.status.complete(doc_id, gen)  # finishes the INDEX stage with the document
        except Fenced:
            return False  # a twin delivery completed it first, or it was deleted meanwhile
        rt.metrics.documents_finished.labels("completed").inc()
        get_logger("documind.search").info("document searchable", document_id=doc_id, chunks=total)
        return True

    def _withdraw(self, doc_id: str, gen: int, tenant: str, ids: list[str]) -> None:
        """Fenced after our upsert: take back what it wrote. Deleted or cancelled: every point
        of the document goes. Superseded: exactly our ids, which carry our generation, so they
        are no later generation's. Finished (a twin delivery of this generation completed it):
        nothing, the twin wrote the same points."""
        doc = self.runtime.status.get(doc_id)
        if doc is None or doc.deleted_at is not None or doc.status is DocumentStatus.CANCELLED:
            self.index.delete_document(doc_id)
        elif doc.generation != gen and ids:
            self.index.delete_points(ids)
        else:
            return
        self.runtime.versions.bump(tenant)

    def _record_indexed(self, doc_id: str, gen: int, ids: list[str]) -> tuple[int, int]:
        """Behind the fence, re-checked after the upsert (a delete that raced it raises Fenced
        here): mark the chunks indexed and record the stage's progress, in one transaction.
        Returns (chunks indexed, chunks of the document)."""
        with self.runtime.status.step(doc_id, gen) as step:
            s = step.session
            if ids:
                s.execute(update(Chunk).where(Chunk.id.in_(ids)).values(indexed_at=utcnow()))
            base = select(func.count()).where(Chunk.document_id == doc_id, Chunk.generation == gen)
            total = int(s.scalar(base) or 0)
            check_chunk_rows(step.document, total)  # again, under the lock, before completing
            done = int(s.scalar(base.where(Chunk.indexed_at.is_not(None))) or 0)
            step.progress(StageName.INDEX, done, total)
        return done, total

    def delete_document(self, work: DeleteDocument) -> dict:
        with self.runtime.sessions() as s:
            doc = s.get(Document, work.document_id)
            if doc is not None and doc.deleted_at is None and doc.status is not DocumentStatus.CANCELLED:
                raise Fenced(
                    f"document {work.document_id} is not deleted or cancelled; refusing to drop its points"
                )
            tenant = doc.tenant if doc is not None else None
        before = self.index.count(work.document_id)
        self.index.delete_document(work.document_id)
        if tenant is not None:
            self.runtime.versions.bump(tenant)
            self.runtime.status.mark_purged(work.document_id)  # the watchdog stops re-sending
        return {"document_id": work.document_id, "points_removed": before}


def check_chunk_rows(doc: Document, rows: int) -> None:
    """Never index or complete a document whose chunk rows differ from its ``chunk_count``: a
    chunk set cleared after its hand-off would complete with zero chunks and zero points."""
    if doc.chunk_count is not None and rows != doc.chunk_count:
        raise InconsistentChunks(
            f"document {doc.id} has {rows} chunk rows but chunk_count {doc.chunk_count}: not indexing it"
        )


def may_have_older_points(doc: Document, gen: int) -> bool:
    """Only a document indexed before (an earlier generation, a completion, or an earlier
    index attempt) can have points of another generation or id scheme: at generation 1 the
    chunk rows are final before the first index message is sent. ``documind index check``
    would report any leftover as extra points. ``doc`` is read after this pass began its stage."""
    if gen > 1 or doc.completed_at is not None:
        return True
    index_stage = next((st for st in doc.stages if st.name == StageName.INDEX), None)
    return index_stage is None or index_stage.attempt > 1
