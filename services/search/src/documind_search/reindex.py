"""``index reindex``: rebuild the index into a new versioned collection from the database and
switch the alias to it, while search keeps serving from the old one.

1. create ``<alias>__v<N+1>`` with the current settings and model;
2. from now on every write of this process lands in both collections (the shadow), so nothing
   written during the copy is lost;
3. copy every live chunk from the stored embeddings (a repair of the empty collection, one
   batch of documents at a time, each batch read and written under the index lock);
4. catch up under the lock: documents whose state changed since the copy began are checked
   and repaired again, and chunks of in-flight documents already written to the old
   collection are written to the new one;
5. switch the alias in one ``update_collection_aliases`` call (delete + create), drop the old.

A deployment from before aliases has a real collection under the alias name: it is treated as
version 1, and on the switch it is deleted and the alias created under the lock. That
switch is not atomic for other processes on a Qdrant server (a request there can meet no
collection for the instant between the two calls); in local mode only this process can read
the folder, and the lock hides the gap.

With another model (``model activate``, ``model rollback``: ``run(model=..., reembed=...)``)
stored vectors are of the wrong model, so steps 2-4 become a re-embedding:

2'. no shadow (it would write the old model's vectors into the new collection): writes of
    the pipeline keep going to the live collection only;
3'. every live chunk is re-embedded from its stored text (``chunks.text``) with the new model,
    one batch of documents at a time, the vectors stored on the rows and written to the new
    collection; search answers from the old collection all along;
4'. under the lock: documents changed since the start get their points in the new collection
    dropped and, if still live, re-embedded; chunks of in-flight documents already written to
    the old collection are re-embedded into the new one; then the alias switch, and the
    index adopts the new model (queries encode with it from then on). Work embedded with the
    old model after the switch is re-embedded by the indexer (see indexer.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from qdrant_client import models
from sqlalchemy import select

from documind.db.models import FINAL_STATUSES, Chunk, Document, DocumentStatus, utcnow
from documind.logging import get_logger

from documind_search.index_audit import IndexAudit
from documind_search.points import build_points
from documind_search.reembed import Reembedder
from documind_search.vector_index import VectorIndex, version_of, versioned_name

FINAL = tuple(FINAL_STATUSES)


@dataclass
class Reindexer:
    sessions: Any
    index: VectorIndex
    audit: IndexAudit

    document_batch: int = 50

    def run(self, model: Any = None, reembed: Reembedder | None = None) -> dict[str, Any]:
        """Re-index; with ``model`` (a ModelRef of another model than the live one) and
        ``reembed``, re-embed into the new collection instead of copying."""
        if model is not None and model.name != self.index.live()[1]:
            if reembed is None:
                raise ValueError("a re-index into another model needs a re-embedder")
            return self._run_reembedding(model, reembed)
        idx = self.index
        started = time.monotonic()
        idx.ensure(check_layout=False)
        alias = idx.collection
        old = idx.alias_target()
        legacy = old is None
        old_name = old or alias
        new_name = versioned_name(alias, version_of(alias, old_name) + 1)
        with idx.lock:
            if idx.client.collection_exists(new_name) and new_name != old_name:
                idx.drop_collection(new_name)  # left by an interrupted re-index
            idx.create_collection(new_name)
        new = idx.sibling(new_name)
        since = utcnow() - timedelta(seconds=1)
        idx.set_shadow(new)
        try:
            copied = self.audit.run(repair=True, target=new)
            with idx.lock:
                caught_up = self._catch_up(new, since)
                self._switch(alias, old_name, new_name, legacy)
                idx.set_shadow(None)
        except BaseException:
            idx.set_shadow(None)
            self._abandon(new_name)
            raise
        self._retire(old_name, legacy)
        result = {
            "alias": alias,
            "old_collection": old_name,
            "new_collection": new_name,
            "migrated_from_plain_collection": legacy,
            "documents": copied.documents_checked,
            "points_copied": copied.repaired["upserted"],
            "caught_up": caught_up,
            "points": new.count(),
            "seconds": round(time.monotonic() - started, 2),
        }
        get_logger("documind.search").info("re-indexed", **result)
        return result

    # ---- into another model ------------------------------------------------------------------
    def _run_reembedding(self, model: Any, reembed: Reembedder) -> dict[str, Any]:
        idx = self.index
        started = time.monotonic()
        alias = idx.collection
        with idx.lock:
            old_name, old_model = idx.live()
            legacy = idx.alias_target() is None
            new_name = versioned_name(alias, version_of(alias, old_name) + 1)
            if idx.client.collection_exists(new_name) and new_name != old_name:
                idx.drop_collection(new_name)  # left by an interrupted re-index
            new = idx.sibling(new_name, model=model.name, dimension=model.dimension)
            new.create_collection(new_name)
        since = utcnow() - timedelta(seconds=1)
        try:
            documents = points = 0
            for ids in self._live_document_batches():
                documents += len(ids)
                points += self._reembed_documents(new, ids, model.name, reembed)
            with idx.lock:
                caught_up = self._reembed_catch_up(new, since, model.name, reembed)
                self._switch(alias, old_name, new_name, legacy)
                idx.adopt(model.name, model.dimension)
        except BaseException:
            self._abandon(new_name)
            raise
        self._retire(old_name, legacy)
        result = {
            "alias": alias, "old_collection": old_name, "new_collection": new_name,
            "old_model": old_model, "new_model": model.name, "migrated_from_plain_collection": legacy,
            "documents": documents, "points_copied": 0, "points_reembedded": points, "caught_up": caught_up,
            "points": new.count(), "seconds": round(time.monotonic() - started, 2),
        }
        get_logger("documind.search").info("re-embedded into a new collection", **result)
        return result

    def _abandon(self, new_name: str) -> None:
        """A re-index that failed before its switch: drop its half-built collection (never the
        one the alias points at)."""
        idx = self.index
        with idx.lock:
            if idx.alias_target() != new_name and idx.client.collection_exists(new_name):
                idx.drop_collection(new_name)

    def _retire(self, old_name: str, legacy: bool) -> None:
        """After the switch: drop the collection the alias left (a legacy plain collection,
        named like the alias, was already deleted by the switch to make room for it)."""
        if not legacy:
            with self.index.lock:
                self.index.drop_collection(old_name)

    def _live_document_batches(self):  # noqa: ANN202 - Iterator[list[str]]
        last = ""
        while True:
            with self.sessions() as s:
                ids = list(s.scalars(
                    select(Document.id)
                    .where(Document.status == DocumentStatus.COMPLETED, Document.deleted_at.is_(None), Document.id > last)
                    .order_by(Document.id).limit(self.document_batch)
                ))
            if not ids:
                return
            yield ids
            last = ids[-1]

    def _reembed_documents(
        self, new: VectorIndex, doc_ids: list[str], model: str, reembed: Reembedder, *, in_flight: bool = False
    ) -> int:
        """Re-embed the current generation's chunks of ``doc_ids`` (completed ones; with
        ``in_flight`` the not-yet-final ones, only their chunks already indexed) into ``new``.
        Rows already embedded with ``model`` (an interrupted earlier run) are not encoded again."""
        written = 0
        with self.sessions() as s:
            q = select(Document).where(Document.id.in_(doc_ids), Document.deleted_at.is_(None))
            q = q.where(Document.status.not_in(FINAL)) if in_flight else q.where(Document.status == DocumentStatus.COMPLETED)
            for doc in s.scalars(q).all():
                cq = select(Chunk).where(
                    Chunk.document_id == doc.id, Chunk.generation == doc.generation, Chunk.embedding.is_not(None)
                )
                if in_flight:
                    cq = cq.where(Chunk.indexed_at.is_not(None))
                rows = list(s.scalars(cq.order_by(Chunk.idx)).all())
                reembed([c for c in rows if c.embedding_model != model], model)
                points = build_points(doc, rows, model, self.audit.bm25)
                new.upsert(points)
                written += len(points)
        return written

    def _reembed_catch_up(self, new: VectorIndex, since: Any, model: str, reembed: Reembedder) -> dict[str, int]:
        with self.sessions() as s:
            touched = list(s.scalars(select(Document.id).where(Document.updated_at >= since)))
            in_flight = list(s.scalars(
                select(Document.id).where(Document.status.not_in(FINAL), Document.deleted_at.is_(None))
            ))
        for doc_id in touched:
            new.delete_document(doc_id)  # deleted, failed, re-processed: its points there are stale
        fixed = self._reembed_documents(new, touched, model, reembed) if touched else 0
        flying = self._reembed_documents(new, in_flight, model, reembed, in_flight=True) if in_flight else 0
        return {"documents_changed": len(touched), "points_fixed": fixed, "in_flight_points": flying}

    def _catch_up(self, new: VectorIndex, since: Any) -> dict[str, int]:
        with self.sessions() as s:
            touched = list(s.scalars(select(Document.id).where(Document.updated_at >= since)))
        report = self.audit.run(repair=True, target=new, document_ids=touched) if touched else None
        in_flight = self._in_flight_points()
        new.upsert(in_flight)
        return {
            "documents_changed": len(touched),
            "points_fixed": (report.repaired["upserted"] + report.repaired["deleted"]) if report else 0,
            "in_flight_points": len(in_flight),
        }

    def _in_flight_points(self) -> list:
        """Chunks of documents still being indexed that already reached the old collection."""
        model = self.index.model
        points = []
        with self.sessions() as s:
            docs = s.scalars(
                select(Document).where(Document.status.not_in(FINAL), Document.deleted_at.is_(None))
            )
            for doc in docs:
                rows = s.scalars(
                    select(Chunk).where(
                        Chunk.document_id == doc.id, Chunk.generation == doc.generation,
                        Chunk.indexed_at.is_not(None), Chunk.embedding_model == model,
                        Chunk.rejected_at.is_(None),
                    )
                ).all()
                points.extend(build_points(doc, list(rows), model, self.audit.bm25))
        return points

    def _switch(self, alias: str, old_name: str, new_name: str, legacy: bool) -> None:
        client = self.index.client
        create = models.CreateAliasOperation(create_alias=models.CreateAlias(collection_name=new_name, alias_name=alias))
        if legacy:
            self.index.drop_collection(old_name)
            client.update_collection_aliases(change_aliases_operations=[create])
        else:
            client.update_collection_aliases(
                change_aliases_operations=[
                    models.DeleteAliasOperation(delete_alias=models.DeleteAlias(alias_name=alias)),
                    create,
                ]
            )
