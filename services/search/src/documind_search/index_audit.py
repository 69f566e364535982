"""``index check`` / ``index repair``: the database is the source of truth; compare Qdrant with
it in two bounded passes and optionally fix what differs.

1. database-driven: completed documents in batches (keyset by id); their chunk rows (without
   embedding bytes) against the points whose payload names them -> missing, stale, extra
   (index past the end, another model);
2. Qdrant-driven: every point, one scroll page at a time, its document looked up -> extra
   (no such document, deleted, failed, cancelled).

Repair rewrites missing and stale points from the stored embeddings through ``build_points``
(no re-embedding) and deletes extras. It re-reads the rows under the index lock, so an index
write of the search service cannot interleave between the read and the write."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from qdrant_client import models
from sqlalchemy import select

from documind.db.models import Chunk, Document, DocumentStatus
from documind.vectors import point_id

from documind_search.index_diff import (
    BatchDiff,
    DocumentState,
    ExpectedPoint,
    Report,
    diff_live_documents,
    diff_orphans,
)
from documind_search.keywords import Bm25Params
from documind_search.points import DEFAULT_BM25, build_points
from documind_search.vector_index import VectorIndex


@dataclass
class IndexAudit:
    sessions: Any
    index: VectorIndex
    bm25: Bm25Params = DEFAULT_BM25
    document_batch: int = 200
    page_size: int = 1000

    def run(
        self,
        *,
        tenant: str | None = None,
        repair: bool = False,
        document_ids: list[str] | None = None,
        target: VectorIndex | None = None,
    ) -> Report:
        """Check (and with ``repair`` fix) ``target`` (default: the live index), optionally
        only ``tenant`` or only ``document_ids``."""
        target = target or self.index
        target.ensure()
        report = Report()
        for docs in self._live_document_batches(tenant, document_ids):
            expected = list(self._expected(docs))
            report.documents_checked += len(docs)
            report.chunks_expected += len(expected)
            flt = _match("document_id", [d.id for d in docs])
            diff = diff_live_documents(expected, target.scroll(flt, self.page_size, _FIELDS))
            report.record(diff)
            if repair:
                self._repair(target, diff, report)
        flt = _match("tenant", [tenant]) if tenant else None
        if document_ids is not None:
            flt = _match("document_id", document_ids)
        for page in _pages(target.scroll(flt, self.page_size, ["document_id"]), self.page_size):
            report.points_scanned += len(page)
            diff = diff_orphans(page, self._states({p.get("document_id") for _, p in page}))
            report.record(diff)
            if repair:
                self._repair(target, diff, report)
        return report

    # ---- database side -------------------------------------------------------------------
    def _live_document_batches(self, tenant: str | None, only: list[str] | None) -> Iterator[list[Document]]:
        last = ""
        while True:
            q = (
                select(Document)
                .where(
                    Document.status == DocumentStatus.COMPLETED, Document.deleted_at.is_(None),
                    Document.id > last,
                )
                .order_by(Document.id)
                .limit(self.document_batch)
            )
            if tenant:
                q = q.where(Document.tenant == tenant)
            if only is not None:
                q = q.where(Document.id.in_(only))
            with self.sessions() as s:
                docs = list(s.execute(q).scalars())
                s.expunge_all()
            if not docs:
                return
            yield docs
            last = docs[-1].id

    def _expected(self, docs: list[Document]) -> Iterator[ExpectedPoint]:
        by_id = {d.id: d for d in docs}
        model = self.index.model
        with self.sessions() as s:
            rows = s.execute(
                select(Chunk.document_id, Chunk.idx, Chunk.generation, Chunk.text)
                .join(Document, Document.id == Chunk.document_id)
                .where(
                    Chunk.document_id.in_(list(by_id)), Chunk.generation == Document.generation,
                    Chunk.embedding.is_not(None), Chunk.embedding_model == model,
                    Chunk.rejected_at.is_(None),  # a validator took it out of search
                )
            )
            for doc_id, idx, gen, text in rows:
                yield ExpectedPoint(
                    point_id(doc_id, idx, model, generation=gen), doc_id, idx, gen, by_id[doc_id].tenant, text
                )

    def _states(self, doc_ids: set[Any]) -> dict[str, DocumentState]:
        ids = [d for d in doc_ids if isinstance(d, str)]
        if not ids:
            return {}
        with self.sessions() as s:
            rows = s.execute(select(Document.id, Document.status, Document.deleted_at).where(Document.id.in_(ids)))
            return {i: DocumentState(st.value, deleted_at is not None) for i, st, deleted_at in rows}

    # ---- repair ----------------------------------------------------------------------------
    def _repair(self, target: VectorIndex, diff: BatchDiff, report: Report) -> None:
        rewrite: dict[str, set[int]] = {}
        for exp in [*diff.missing, *(e for e, _ in diff.stale)]:
            rewrite.setdefault(exp.document_id, set()).add(exp.chunk_index)
        extras = [pid for pid, _doc, _why in diff.extra]
        if extras:
            target.delete_points(extras)
            report.repaired["deleted"] += len(extras)
        # One document per lock hold: queries and index writes interleave between documents.
        for doc_id, indexes in rewrite.items():
            with target.lock:
                points = self._points_from_rows(doc_id, indexes)
                target.upsert(points)
            report.repaired["upserted"] += len(points)

    def _points_from_rows(self, doc_id: str, indexes: set[int]) -> list:
        """Points rebuilt from the rows as they are now (a document that stopped being live
        since the check gets none)."""
        model = self.index.model
        with self.sessions() as s:
            doc = s.get(Document, doc_id)
            if doc is None or doc.status != DocumentStatus.COMPLETED or doc.deleted_at is not None:
                return []
            rows = s.execute(
                select(Chunk)
                .where(
                    Chunk.document_id == doc.id, Chunk.generation == doc.generation,
                    Chunk.idx.in_(sorted(indexes)), Chunk.embedding_model == model,
                    Chunk.rejected_at.is_(None),
                )
                .order_by(Chunk.idx)
            ).scalars().all()
            return build_points(doc, list(rows), model, self.bm25)


_FIELDS = ["document_id", "chunk_index", "generation", "tenant", "text"]


def _match(key: str, values: list[str]) -> models.Filter:
    return models.Filter(must=[models.FieldCondition(key=key, match=models.MatchAny(any=values))])


def _pages(items: Iterator[tuple[str, dict]], size: int) -> Iterator[list[tuple[str, dict]]]:
    page: list[tuple[str, dict]] = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page
