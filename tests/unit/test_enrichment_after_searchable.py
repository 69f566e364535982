"""Chunk enrichment runs after the document is searchable (``embed.finish_enrichment``), not in
the embed stage: on the embedded runtime (SQLite, in-process broker, no worker consuming), with
the real spaCy, VADER and word lists on a real biography from the corpus.

- the embed stage's vectors come without enrichment rows;
- ``CompletedDocumentEnricher.finish`` enriches at most ``DOCUMIND_ENRICHMENT_CHUNKS_PER_MESSAGE``
  chunks per message and sends itself again while there may be more; the last one aggregates
  the document, and asks the search service once to rebuild the points of chunks with entities;
- a redelivered message enriches nothing twice; a document deleted or re-processed meanwhile
  drops the work."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from dramatiq import Message
from sqlalchemy import func, select

from documind.contracts import FinishEnrichment, IndexChunks, Queues
from documind.db.engine import transaction
from documind.db.models import Chunk, ChunkEnrichment, ChunkEntity, DocumentEnrichment
from documind.errors import Fenced
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload

from documind_embed.enrichment import ChunkEnricher, CompletedDocumentEnricher
from documind_embed.entities import EntityExtractor, load_spacy
from documind_embed.quality import WordList
from documind_embed.sentiment import SentimentAnalyzer, load_vader

from tests.conftest import require_real_corpus

CHUNKS = 5
PER_MESSAGE = 2


@pytest.fixture(scope="module")
def enricher() -> ChunkEnricher:
    return ChunkEnricher(EntityExtractor(load_spacy(), "US"), SentimentAnalyzer(load_vader()), WordList(), 256)


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(
        load_settings(data_dir=tmp_path, worker_threads=1, enrichment_chunks_per_message=PER_MESSAGE),
        configure_logs=False,
    )
    yield rt
    rt.close()


def completed_biography(rt: Runtime) -> str:
    """A completed document of five chunks of the Norwich City biography (no enrichment yet,
    as the embed stage leaves it)."""
    text = (require_real_corpus() / "norwich-city.txt").read_text(encoding="utf-8")
    words = text.split()
    paragraphs = [" ".join(words[i * 120:(i + 1) * 120]) for i in range(CHUNKS)]  # its first 600 words
    reg = rt.status.register(Upload("acme", "bio.txt", "b" * 64, len(text), "acme/bio"))
    with transaction(rt.sessions) as s:
        for i, p in enumerate(paragraphs):
            s.add(Chunk(id=f"{reg.document_id}-{i}", document_id=reg.document_id, idx=i, generation=1, text=p,
                        token_count=len(p.split())))
    rt.status.complete(reg.document_id, 1)
    return reg.document_id


def queued(rt: Runtime, queue: str) -> list[Message]:
    q = rt.broker.queues[queue]
    out = []
    while not q.empty():
        out.append(Message.decode(q.get()))
    return out


def enriched_count(rt: Runtime, doc_id: str) -> int:
    with rt.sessions() as s:
        return int(s.scalar(select(func.count()).where(ChunkEnrichment.document_id == doc_id)) or 0)


def test_enriched_in_bounded_messages_then_finished_once(runtime: Runtime, enricher: ChunkEnricher) -> None:
    rt = runtime
    doc_id = completed_biography(rt)
    actor = CompletedDocumentEnricher(rt, lambda: enricher)
    work = FinishEnrichment(document_id=doc_id, generation=1, tenant="acme")

    rounds = []
    while True:
        out = actor.finish(work)
        rounds.append(enriched_count(rt, doc_id))
        again = [m for m in queued(rt, Queues.EMBED) if m.actor_name == "embed.finish_enrichment"]
        if out is None or not out.get("more"):
            assert again == []
            break
        [message] = again  # the rest of the document, in a message of its own
        assert FinishEnrichment.parse(message.args[0]) == work
    assert rounds == [2, 4, 5]  # at most PER_MESSAGE chunks per message, then the finish
    assert out["review_sent"] is False and out["confidence"] >= 0.8

    with rt.sessions() as s:
        keys = {f"{t}:{v}" for t, v in s.execute(
            select(ChunkEntity.type, ChunkEntity.value).where(ChunkEntity.document_id == doc_id))}
        with_entities = sorted(set(s.scalars(select(ChunkEntity.idx).where(ChunkEntity.document_id == doc_id))))
        assert s.get(DocumentEnrichment, doc_id).generation == 1
    assert "PERSON:iwan wyn roberts" in keys
    [refresh] = [IndexChunks.parse(m.args[0]) for m in queued(rt, Queues.SEARCH)]
    assert refresh.revision and refresh.start == 0 and refresh.end == with_entities[-1] + 1

    # A redelivery (or the classifier's re-figuring) enriches nothing again and sends no
    # second refresh of the points.
    with rt.sessions() as s:
        before = s.scalars(select(ChunkEnrichment.enriched_at).order_by(ChunkEnrichment.idx)).all()
    actor.finish(work)
    with rt.sessions() as s:
        assert s.scalars(select(ChunkEnrichment.enriched_at).order_by(ChunkEnrichment.idx)).all() == before
    assert queued(rt, Queues.SEARCH) == []


def test_deleted_or_reprocessed_document_drops_the_work(runtime: Runtime, enricher: ChunkEnricher) -> None:
    rt = runtime
    doc_id = completed_biography(rt)
    actor = CompletedDocumentEnricher(rt, lambda: enricher)
    with pytest.raises(Fenced):
        actor.finish(FinishEnrichment(document_id=doc_id, generation=2, tenant="acme"))  # not this generation
    rt.status.mark_deleted(doc_id)
    with pytest.raises(Fenced):
        actor.finish(FinishEnrichment(document_id=doc_id, generation=1, tenant="acme"))
    assert enriched_count(rt, doc_id) == 0
