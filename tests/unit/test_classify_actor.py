"""The classification actor and the payload refresh on an embedded runtime (SQLite, StubBroker,
Qdrant in memory), with the real encoder: labels land on the document, its chunks and its
points; redelivery changes nothing; a re-processed or deleted document is left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import dramatiq
import pytest
from qdrant_client import QdrantClient
from sqlalchemy import select

from documind.contracts import ClassifyDocument, Queues, RefreshPayload
from documind.db.engine import transaction
from documind.db.models import Chunk, Document, DocumentStatus, utcnow
from documind.embedding import Encoder
from documind.errors import Fenced
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload
from documind.taxonomy import add_label
from documind_embed.classifier import DocumentClassifier
from documind_search.payload_refresh import PayloadRefresher
from documind_search.points import build_points
from documind_search.vector_index import VectorIndex

TEXTS = [
    "The striker scored twice and the club won the league title on the last day of the season.",
    "Fans sang as the goalkeeper saved a penalty in the cup final.",
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return Encoder("all-MiniLM-L6-v2")


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(data_dir=tmp_path / "data", renditions=False), configure_logs=False)
    for q in (Queues.EMBED, Queues.SEARCH):
        rt.broker.declare_queue(q)
    yield rt
    rt.close()


def completed_document(rt: Runtime, encoder: Encoder, generation: int = 1) -> str:
    reg = rt.status.register(Upload(tenant="acme", source_name="match.txt", sha256="0" * 64, size_bytes=1,
                                    storage_key="k"))
    vectors = encoder.encode(TEXTS)
    with transaction(rt.sessions) as s:
        doc = s.get(Document, reg.document_id)
        doc.generation = generation
        doc.status = DocumentStatus.COMPLETED
        doc.completed_at = utcnow()
        doc.chunk_count = len(TEXTS)
        for i, (text, vec) in enumerate(zip(TEXTS, vectors)):
            s.add(Chunk(id=f"{reg.document_id[:8]}-{i}", document_id=reg.document_id, idx=i, generation=generation,
                        text=text, token_count=20, embedding=vec.tobytes(), embedding_model=encoder.model_name))
    return reg.document_id


def sent(rt: Runtime, contract: type) -> list[dict]:
    return [
        m.args[0] for q in rt.broker.get_declared_queues()
        for m in map(dramatiq.Message.decode, list(rt.broker.queues[q].queue)) if m.actor_name == contract.ACTOR
    ]


def test_classify_then_refresh_puts_labels_everywhere(runtime: Runtime, encoder: Encoder) -> None:
    add_label(runtime.sessions, "acme", "sport", "Sport: football clubs, players, matches, goals and leagues.")
    add_label(runtime.sessions, "acme", "cooking", "Cooking: recipes, ingredients, baking and kitchen techniques.")
    doc_id = completed_document(runtime, encoder)
    index = VectorIndex(QdrantClient(location=":memory:"), "chunks", encoder.model_name, encoder.dimension)
    with runtime.sessions() as s:
        doc = s.get(Document, doc_id)
        index.upsert(build_points(doc, list(s.scalars(select(Chunk).where(Chunk.document_id == doc_id))),
                                  encoder.model_name))

    classifier = DocumentClassifier(runtime, encoder)
    work = ClassifyDocument(document_id=doc_id, generation=1, tenant="acme")
    first = classifier.classify_document(work)
    assert [lb["name"] for lb in first["labels"]] == ["sport"] and first["method"] == "zero-shot"
    again = classifier.classify_document(work)  # redelivered: the same result, written again
    assert again == first
    doc = runtime.status.get(doc_id)
    assert doc is not None and doc.metadata_["labels"] == ["sport"]
    assert doc.metadata_["classification"] == first
    with runtime.sessions() as s:
        tops = s.scalars(select(Chunk.classification).where(Chunk.document_id == doc_id)).all()
    assert [t["name"] for t in tops] == ["sport", "sport"]
    assert sent(runtime, RefreshPayload) == [RefreshPayload(document_id=doc_id, generation=1, tenant="acme").payload()] * 2

    assert [p.payload["labels"] for p in index.client.scroll("chunks", with_payload=True)[0]] == [[], []]
    PayloadRefresher(runtime, index).refresh(RefreshPayload(document_id=doc_id, generation=1, tenant="acme"))
    points = index.client.scroll("chunks", with_payload=True)[0]
    assert [p.payload["labels"] for p in points] == [["sport"], ["sport"]]
    assert {p.payload["chunk_index"] for p in points} == {0, 1}  # chunk fields kept


def test_a_superseded_or_deleted_document_is_left_alone(runtime: Runtime, encoder: Encoder) -> None:
    add_label(runtime.sessions, "acme", "sport", "Sport: football clubs, players, matches, goals and leagues.")
    doc_id = completed_document(runtime, encoder, generation=2)
    classifier = DocumentClassifier(runtime, encoder)
    with pytest.raises(Fenced, match="superseded"):
        classifier.classify_document(ClassifyDocument(document_id=doc_id, generation=1, tenant="acme"))
    index = VectorIndex(QdrantClient(location=":memory:"), "chunks", encoder.model_name, encoder.dimension)
    runtime.status.mark_deleted(doc_id)
    with pytest.raises(Fenced):
        classifier.classify_document(ClassifyDocument(document_id=doc_id, generation=2, tenant="acme"))
    with pytest.raises(Fenced):
        PayloadRefresher(runtime, index).refresh(RefreshPayload(document_id=doc_id, generation=2, tenant="acme"))
    doc = runtime.status.get(doc_id)
    assert doc is not None and "labels" not in (doc.metadata_ or {})
    assert sent(runtime, RefreshPayload) == []


def test_refresh_touches_only_its_generation(runtime: Runtime, encoder: Encoder) -> None:
    doc_id = completed_document(runtime, encoder, generation=2)
    index = VectorIndex(QdrantClient(location=":memory:"), "chunks", encoder.model_name, encoder.dimension)
    with runtime.sessions() as s:
        doc = s.get(Document, doc_id)
        chunks = list(s.scalars(select(Chunk).where(Chunk.document_id == doc_id)))
        current = build_points(doc, chunks, encoder.model_name)
        for c in chunks:
            c.generation = 1
        stale = build_points(doc, chunks, encoder.model_name)  # a fenced-off generation's leftovers
        s.rollback()
    index.upsert(current + stale)
    with transaction(runtime.sessions) as s:
        s.get(Document, doc_id).metadata_ = {"labels": ["sport"]}  # as classification stores them
    PayloadRefresher(runtime, index).refresh(RefreshPayload(document_id=doc_id, generation=2))
    by_gen = {(p.payload["generation"], tuple(p.payload["labels"])) for p in index.client.scroll("chunks", with_payload=True)[0]}
    assert by_gen == {(2, ("sport",)), (1, ())}
