"""Enrichment of a searchable document (entities, sentiment, quality and confidence), on
``embed.finish_enrichment``, which the search service sends when it completed the document.

It runs after the document became searchable, not beside the encoder: with the int8 encoder,
enrichment (~25 ms a chunk) added about a quarter to a document's time to searchable (bench
row 9). ``CompletedDocumentEnricher.finish`` enriches the generation's chunks that have no
enrichment yet, ``DOCUMIND_ENRICHMENT_CHUNKS_PER_MESSAGE`` at a time (a larger document
continues in a message of its own, so no message runs long); once none is left,
``finish_document`` aggregates the chunks into the document's sentiment, quality and
confidence, sends the chunks below ``DOCUMIND_VALIDATION_THRESHOLD`` to the validate service
(``ReviewChunks``) and asks the search service to put the entities on the points
(``IndexChunks`` with ``revision``), each once per document generation."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from documind.bus import Bus
from documind.contracts import FinishEnrichment, IndexChunks, LowConfidenceChunk, ReviewChunks
from documind.db.engine import SessionFactory, transaction
from documind.db.models import (
    Chunk, ChunkEnrichment, ChunkEntity, Document, DocumentEnrichment, DocumentStatus, utcnow,
)
from documind.errors import Fenced
from documind.logging import get_logger
from documind.runtime import Runtime
from documind.status import StatusStore
from documind.validation.writeback import fold_validated

from documind_embed.entities import Entity, EntityExtractor
from documind_embed.quality import Assessment, WordList, assess, detect_language, document_assessment
from documind_embed.sentiment import Sentiment, SentimentAnalyzer, document_sentiment

MAX_REVIEW_CHUNKS = 10_000  # ReviewChunks' limit: the lowest first beyond it
SERVICE = "embed"  # the metrics' service label


@dataclass(frozen=True)
class ChunkText:
    chunk_id: str
    idx: int
    text: str
    token_count: int | None


@dataclass(frozen=True)
class ChunkFindings:
    chunk: ChunkText
    entities: list[Entity]
    sentiment: Sentiment
    assessment: Assessment


@dataclass
class ChunkEnricher:
    """Pure computation (no database): what one batch of chunk texts holds."""

    entities: EntityExtractor
    sentiment: SentimentAnalyzer
    words: WordList
    max_tokens: int | None  # the embedding model's sequence limit (truncation signal)

    def enrich(self, chunks: Sequence[ChunkText]) -> list[ChunkFindings]:
        analyzed = self.entities.analyze_many([c.text for c in chunks])
        out = []
        for chunk, (entities, words) in zip(chunks, analyzed):
            language, prob = detect_language(chunk.text or "")
            assessment = assess(
                chunk.text or "", words, self.words.known_in(language), prob, chunk.token_count, self.max_tokens
            )
            out.append(ChunkFindings(chunk, entities, self.sentiment.score(chunk.text or ""), assessment))
        return out


def store_findings(s: Session, document_id: str, generation: int, findings: Sequence[ChunkFindings]) -> None:
    """Replace what is stored for these chunks (a redelivered range writes the same again)."""
    ids = [f.chunk.chunk_id for f in findings]
    if not ids:
        return
    s.execute(delete(ChunkEntity).where(ChunkEntity.chunk_id.in_(ids)))
    s.execute(delete(ChunkEnrichment).where(ChunkEnrichment.chunk_id.in_(ids)))
    now = utcnow()
    s.add_all(
        ChunkEnrichment(
            chunk_id=f.chunk.chunk_id, document_id=document_id, generation=generation, idx=f.chunk.idx,
            sentiment=round(f.sentiment.compound, 4), sentiment_label=f.sentiment.label,
            quality=f.assessment.signals, confidence=f.assessment.confidence, reasons=f.assessment.reasons,
            enriched_at=now,
        )
        for f in findings
    )
    s.add_all(
        ChunkEntity(
            chunk_id=f.chunk.chunk_id, document_id=document_id, generation=generation, idx=f.chunk.idx,
            type=e.type, text=e.text, value=e.value, start=e.start, end=e.end, source=e.source,
        )
        for f in findings
        for e in f.entities
    )


@dataclass
class CompletedDocumentEnricher:
    """The ``embed.finish_enrichment`` actor. Idempotent: a chunk enriched already is not
    enriched again, and a redelivery of the last message aggregates the same figures."""

    runtime: Runtime
    enricher: Callable[[], ChunkEnricher]  # built on first use (spaCy's model loads then)

    def finish(self, work: FinishEnrichment) -> dict[str, Any] | None:
        rt = self.runtime
        doc_id, gen = work.document_id, work.generation
        limit = rt.settings.enrichment_chunks_per_message
        with rt.sessions() as s:
            StatusStore.revision_guard(s, doc_id, gen)  # completed in this generation, or dropped
            rows = s.execute(
                select(Chunk.id, Chunk.idx, Chunk.text, Chunk.token_count)
                .outerjoin(ChunkEnrichment, ChunkEnrichment.chunk_id == Chunk.id)
                .where(Chunk.document_id == doc_id, Chunk.generation == gen, ChunkEnrichment.chunk_id.is_(None))
                .order_by(Chunk.idx)
                .limit(limit)
            ).all()
        if rows:
            started = time.monotonic()
            findings = self.enricher().enrich([ChunkText(r.id, r.idx, r.text, r.token_count) for r in rows])
            with rt.status.revision(doc_id, gen) as s:  # a deletion or re-processing meanwhile wins
                store_findings(s, doc_id, gen, findings)
                # Decisions carried over from the previous generation (documind.validation.carry)
                # stay in force over the new machine figure, as after a correction.
                fold_validated(s, [f.chunk.chunk_id for f in findings])
            rt.metrics.stage_seconds.labels(SERVICE, "enrich").observe(time.monotonic() - started)
            rt.metrics.chunks_processed.labels("enrich").inc(len(rows))
            if len(rows) == limit:
                rt.bus.send(work)  # maybe more: the rest in a message of its own
                return {"enriched": len(rows), "more": True}
        st = rt.settings
        return finish_document(rt.sessions, rt.bus, work, st.validation_threshold, st.embed_chunks_per_message)


def finish_document(
    sessions: SessionFactory, bus: Bus, work: FinishEnrichment, threshold: float, span: int = 128
) -> dict[str, Any] | None:
    """Aggregate a completed document generation's chunks; hand its low-confidence chunks to
    the validate service, and its entities to the search service's points, once per
    generation. The messages are sent inside the transaction that records them as sent (under
    the document's row lock): a crash between the two re-sends them on redelivery (at least
    once; both receivers are idempotent), never loses them. Returns the figures, or None when
    the generation has no enriched chunks."""
    doc_id, gen = work.document_id, work.generation
    with transaction(sessions) as s:
        doc = s.scalar(select(Document).where(Document.id == doc_id).with_for_update())
        if doc is None or doc.generation != gen or doc.status is not DocumentStatus.COMPLETED:
            state = "missing" if doc is None else f"{doc.status.value} at generation {doc.generation}"
            raise Fenced(f"document {doc_id} generation {gen} is not completed ({state}): nothing to finish")
        first = doc.enriched_generation != gen
        # Finished, with or without enriched chunks: the follow-up check's partial index
        # (documind_maintenance.followup) drops the document from its scan.
        doc.enriched_generation = gen
        rows = s.execute(
            select(ChunkEnrichment, func.length(Chunk.text))
            .join(Chunk, Chunk.id == ChunkEnrichment.chunk_id)
            .where(ChunkEnrichment.document_id == doc_id, ChunkEnrichment.generation == gen)
            .order_by(ChunkEnrichment.idx)
        ).all()
        if not rows:
            return None
        counts: dict[str, int] = defaultdict(int)
        for kind, n in s.execute(
            select(ChunkEntity.type, func.count(func.distinct(ChunkEntity.value)))
            .where(ChunkEntity.document_id == doc_id, ChunkEntity.generation == gen)
            .group_by(ChunkEntity.type)
        ):
            counts[kind] = int(n)
        sentiment = document_sentiment([(e.sentiment, int(n or 0)) for e, n in rows])
        quality = document_assessment([(e.quality, e.confidence, int(n or 0)) for e, n in rows], classifier_margin(doc))
        low = sorted((e for e, _ in rows if e.confidence < threshold), key=lambda e: (e.confidence, e.idx))
        figures = {
            "sentiment": sentiment.compound, "sentiment_label": sentiment.label,
            "quality": {**quality.signals, "reasons": quality.reasons}, "confidence": quality.confidence,
            "low_confidence_chunks": len(low), "entity_counts": dict(counts), "enriched_at": utcnow(),
        }
        if first and counts:
            # The points were written before the entities existed: the search service rebuilds
            # those of chunks with entities from the database (``documind search --entity``),
            # in ranges of at most ``span`` chunks like the pipeline's.
            with_entities = s.scalars(
                select(ChunkEntity.idx).where(ChunkEntity.document_id == doc_id, ChunkEntity.generation == gen)
                .distinct()
            ).all()
            for window in sorted({idx // span for idx in with_entities}):
                bus.send(IndexChunks(
                    document_id=doc_id, generation=gen, start=window * span,
                    end=min((window + 1) * span, max(with_entities) + 1),
                    lane=doc.lane, tenant=doc.tenant, revision=True,
                ))
        record = _record(s, doc_id, gen, figures)
        if record.generation != gen:
            record.generation, record.review_sent_at = gen, None  # a new generation is reviewed anew
        for name, value in figures.items():
            setattr(record, name, value)
        sent = False
        if low and record.review_sent_at is None:
            bus.send(ReviewChunks(
                document_id=doc_id, tenant=doc.tenant, generation=gen, lane=doc.lane,
                document_confidence=quality.confidence,
                chunks=[
                    LowConfidenceChunk(idx=e.idx, confidence=e.confidence, reasons=list(e.reasons)[:32])
                    for e in low[:MAX_REVIEW_CHUNKS]
                ],
            ))
            record.review_sent_at = utcnow()
            sent = True
    get_logger("documind.embed").info(
        "document enriched", document_id=doc_id, confidence=quality.confidence, low_confidence_chunks=len(low),
        review_sent=sent,
    )
    return {"confidence": quality.confidence, "low_confidence_chunks": len(low), "review_sent": sent}


def _record(s: Session, doc_id: str, gen: int, figures: dict[str, Any]) -> DocumentEnrichment:
    """The document's record, created if missing by INSERT ... ON CONFLICT DO NOTHING: two
    finishes of one document (the completion's and the classifier's) can race to create it.
    On Postgres the document's row lock orders them; SQLite (embedded mode) has no row locks,
    and a plain insert failed the second one on the primary key."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    s.execute(insert(DocumentEnrichment).values(document_id=doc_id, generation=gen, **figures)
              .on_conflict_do_nothing(index_elements=["document_id"]))
    return s.scalars(select(DocumentEnrichment).where(DocumentEnrichment.document_id == doc_id)
                     .execution_options(populate_existing=True)).one()


def classifier_margin(doc: Document) -> float | None:
    """``metadata["classification"]["margin"]`` when classification left one (a number). A
    tenant without a taxonomy (method ``none``) has no classification to be unsure about: its
    margin of 0 says nothing about the document and must not zero its confidence."""
    raw = ((doc.metadata_ or {}).get("classification") or {})
    if not isinstance(raw, dict) or raw.get("method") == "none":
        return None
    margin = raw.get("margin")
    return float(margin) if isinstance(margin, (int, float)) and not isinstance(margin, bool) else None
