"""The watchdog's follow-up check: completed documents whose work after completion never
happened (docs/design.md rule 11).

The search service sends ``embed.classify_document`` and ``embed.finish_enrichment`` after the
transaction that completes a document; a worker that dies between the two, or a lost message,
leaves a searchable document without labels or figures for ever. A completed document older
than the grace period (the run's ``stale_after``) is missing its follow-up when

- enrichment is on, its current generation has chunks, and it has no ``document_enrichment``
  record of that generation: ``FinishEnrichment`` is re-sent (it enriches the chunks that are
  not yet, then makes the record). A document processed while enrichment was off is found
  too once it is turned on, and enriched then;
- classification is on, its tenant has a taxonomy, and it has no ``metadata["classification"]``:
  ``ClassifyDocument`` is re-sent.

Both messages are idempotent at the receiver (rule 3), and a document that still has a message
in the broker is left alone, so a second run while one waits sends nothing more. Each run
looks at no more than ``DOCUMIND_WATCHDOG_FOLLOWUP_BATCH`` documents per kind, oldest first: a
backlog (an outage of the embed service, a restore) is worked off over several runs, never as
one giant batch. Each query reads a partial index of the documents (migration 0015) that
holds only completed documents still lacking the follow-up: ``ix_documents_followup_classify``
(no ``metadata -> 'classification'``) and ``ix_documents_followup_enrich``
(``enriched_generation`` is None: ``embed.finish_enrichment`` sets it, a new generation clears
it; a column compared with another would defeat the planner's estimate), so a run
costs the backlog, not the corpus. A document whose follow-up was dead-lettered is not re-sent (that is
``documind dead-letters``' business), or it would take a place in every batch for ever."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, select

from documind.contracts import ClassifyDocument, FinishEnrichment
from documind.db.models import Chunk, DeadLetter, Document, DocumentEnrichment, DocumentStatus, TaxonomyLabel
from documind.logging import get_logger
from documind.pending import PendingWork
from documind.runtime import Runtime


@dataclass
class FollowUps:
    runtime: Runtime

    def run(self, cutoff: datetime, pending: PendingWork) -> dict[str, list[str]]:
        """Re-send the missing follow-ups of documents completed before ``cutoff``. Returns the
        ids re-sent, by kind: ``{"classify": [...], "enrichment": [...]}``."""
        rt = self.runtime
        st = rt.settings
        limit = st.watchdog_followup_batch
        unclassified = self._unclassified(cutoff, limit) if st.classify_enabled else []
        unenriched = self._unenriched(cutoff, limit) if st.enrichment_enabled else []
        if not unclassified and not unenriched:
            return {"classify": [], "enrichment": []}
        waiting = pending.snapshot().documents  # a message still on its way: not lost
        classify = [d for d in unclassified if (d.id, d.generation) not in waiting]
        # Both, when both are missing: the classifier re-sends FinishEnrichment only for a
        # document whose enrichment is finished already (its margin changes the figures).
        enrich = [d for d in unenriched if (d.id, d.generation) not in waiting]
        for d in classify:
            rt.bus.send(ClassifyDocument(document_id=d.id, generation=d.generation, tenant=d.tenant))
        for d in enrich:
            rt.bus.send(FinishEnrichment(document_id=d.id, generation=d.generation, tenant=d.tenant, lane=d.lane))
        if classify or enrich:
            rt.metrics.watchdog_documents.labels("followup_resent").inc(len(classify) + len(enrich))
            get_logger("documind.watchdog").warning(
                "lost follow-ups of completed documents re-sent",
                classify=len(classify), enrichment=len(enrich), limit=limit,
            )
        return {"classify": [d.id for d in classify], "enrichment": [d.id for d in enrich]}

    def _unenriched(self, cutoff: datetime, limit: int) -> list:
        with self.runtime.sessions() as s:
            return list(s.execute(unenriched_query(cutoff, limit)).all())

    def _unclassified(self, cutoff: datetime, limit: int) -> list:
        with self.runtime.sessions() as s:
            return list(s.execute(unclassified_query(s.get_bind().dialect.name, cutoff, limit)).all())


def _completed_before(cutoff: datetime, actor: str) -> Select:
    dead = exists().where(DeadLetter.document_id == Document.id, DeadLetter.actor.startswith(actor),
                          DeadLetter.redriven_at.is_(None))
    return (
        select(Document.id, Document.generation, Document.tenant, Document.lane)
        .where(Document.status == DocumentStatus.COMPLETED, Document.completed_at < cutoff, ~dead)
        .order_by(Document.completed_at, Document.id)
    )


def unenriched_query(cutoff: datetime, limit: int) -> Select:
    """Completed before ``cutoff``, chunks of the current generation, no record of it."""
    has_chunks = exists().where(Chunk.document_id == Document.id, Chunk.generation == Document.generation)
    has_record = exists().where(
        and_(DocumentEnrichment.document_id == Document.id, DocumentEnrichment.generation == Document.generation)
    )
    return _completed_before(cutoff, FinishEnrichment.ACTOR).where(
        # ix_documents_followup_enrich's predicate: the planner then reads only that index.
        Document.enriched_generation.is_(None), has_chunks, ~has_record,
    ).limit(limit)


def unclassified_query(dialect: str, cutoff: datetime, limit: int) -> Select:
    """Completed before ``cutoff``, its tenant has a taxonomy, no classification (the predicate
    of ix_documents_followup_classify)."""
    has_taxonomy = exists().where(TaxonomyLabel.tenant == Document.tenant)
    return _completed_before(cutoff, ClassifyDocument.ACTOR).where(
        has_taxonomy, _no_classification(dialect)
    ).limit(limit)


def _no_classification(dialect: str) -> ColumnElement[bool]:
    """``metadata`` has no "classification" key. Spelled per dialect: SQLAlchemy's generic JSON
    index wraps SQLite's json_extract in json_quote, which turns a missing key into 'null'."""
    if dialect == "sqlite":
        return func.json_extract(Document.metadata_, "$.classification").is_(None)
    return Document.metadata_.op("->")(literal("classification")).is_(None)
