"""finish_document: the document's figures from its chunks, and the ReviewChunks hand-off and
the entity refresh of the points (IndexChunks, revision) sent exactly once per document
generation however often the completion is redelivered."""

from __future__ import annotations

import pytest
from dramatiq.brokers.stub import StubBroker

from documind.bus import Bus
from documind.contracts import FinishEnrichment, IndexChunks, Queues, ReviewChunks
from documind.db.engine import SessionFactory, transaction
from documind.db.models import Chunk, ChunkEnrichment, ChunkEntity, DocumentEnrichment
from documind.errors import Fenced
from documind.status import StatusStore, Upload

from documind_embed.enrichment import finish_document

SHA = "e" * 64


@pytest.fixture
def broker() -> StubBroker:
    b = StubBroker()
    b.declare_queue(Queues.VALIDATE)
    b.declare_queue(Queues.SEARCH)
    return b


def make_document(
    sessions: SessionFactory, confidences: list[float], idxs: list[int] | None = None
) -> tuple[StatusStore, str]:
    store = StatusStore(sessions)
    reg = store.register(Upload("acme", "a.txt", SHA, 10, f"acme/{SHA}"))
    with transaction(sessions) as s:
        for i, conf in zip(idxs or range(len(confidences)), confidences):
            s.add(Chunk(id=f"c{i}", document_id=reg.document_id, idx=i, generation=1, text="x" * 100, token_count=30))
            s.flush()
            s.add(ChunkEnrichment(
                chunk_id=f"c{i}", document_id=reg.document_id, generation=1, idx=i, sentiment=0.5,
                sentiment_label="positive", quality={"dictionary": conf, "junk": 1.0}, confidence=conf,
                reasons=[] if conf >= 0.8 else [f"dictionary={conf:.2f}"],
            ))
            s.add(ChunkEntity(chunk_id=f"c{i}", document_id=reg.document_id, generation=1, idx=i, type="PERSON",
                              text="Ann", value="ann", start=0, end=3, source="spacy"))
    return store, reg.document_id


def review_messages(broker: StubBroker) -> list[ReviewChunks]:
    q = broker.queues[Queues.VALIDATE]
    return [ReviewChunks.parse(m.args[0]) for m in _drain(q)]


def refresh_messages(broker: StubBroker) -> list[tuple[int, int]]:
    """The (start, end) of the IndexChunks revisions sent to the search service."""
    messages = [IndexChunks.parse(m.args[0]) for m in _drain(broker.queues[Queues.SEARCH])]
    assert all(m.revision for m in messages)
    return [(m.start, m.end) for m in messages]


def _drain(q):  # noqa: ANN001, ANN202
    import dramatiq

    out = []
    while not q.empty():
        out.append(dramatiq.Message.decode(q.get()))
    return out


def test_low_confidence_chunks_go_to_review_once(sessions: SessionFactory, broker: StubBroker) -> None:
    store, doc_id = make_document(sessions, [0.95, 0.4, 0.7])
    store.complete(doc_id, 1)
    work = FinishEnrichment(document_id=doc_id, generation=1, tenant="acme")
    first = finish_document(sessions, Bus(broker), work, threshold=0.8)
    again = finish_document(sessions, Bus(broker), work, threshold=0.8)  # a redelivered completion
    assert first == {"confidence": pytest.approx((0.95 + 0.4 + 0.7) / 3, abs=1e-3), "low_confidence_chunks": 2,
                     "review_sent": True}
    assert again["review_sent"] is False
    [msg] = review_messages(broker)
    assert msg.document_id == doc_id and msg.generation == 1 and msg.tenant == "acme"
    assert [(c.idx, c.confidence) for c in msg.chunks] == [(1, 0.4), (2, 0.7)]  # lowest first
    assert msg.chunks[0].reasons == ["dictionary=0.40"]
    with sessions() as s:
        record = s.get(DocumentEnrichment, doc_id)
        assert record.entity_counts == {"PERSON": 1} and record.low_confidence_chunks == 2
        assert record.review_sent_at is not None and record.sentiment_label == "positive"
    # Every chunk has an entity: the points of all three are rebuilt, once.
    assert refresh_messages(broker) == [(0, 3)]


def test_entity_refresh_in_windows_of_chunks_with_entities(sessions: SessionFactory, broker: StubBroker) -> None:
    """A long document's entity refresh goes in windows of ``span`` chunks, only those windows
    that hold a chunk with entities (here chunks 0, 5 and 300 of a span of 128)."""
    store, doc_id = make_document(sessions, [0.9, 0.9, 0.9], idxs=[0, 5, 300])
    store.complete(doc_id, 1)
    finish_document(sessions, Bus(broker), FinishEnrichment(document_id=doc_id, generation=1), 0.8, span=128)
    assert refresh_messages(broker) == [(0, 128), (256, 301)]


def test_confident_document_sends_nothing(sessions: SessionFactory, broker: StubBroker) -> None:
    store, doc_id = make_document(sessions, [0.9, 0.99])
    store.complete(doc_id, 1)
    out = finish_document(sessions, Bus(broker), FinishEnrichment(document_id=doc_id, generation=1), 0.8)
    assert out["review_sent"] is False and review_messages(broker) == []


def test_not_completed_or_superseded_is_fenced(sessions: SessionFactory, broker: StubBroker) -> None:
    store, doc_id = make_document(sessions, [0.1])
    with pytest.raises(Fenced):
        finish_document(sessions, Bus(broker), FinishEnrichment(document_id=doc_id, generation=1), 0.8)
    store.complete(doc_id, 1)
    with pytest.raises(Fenced):
        finish_document(sessions, Bus(broker), FinishEnrichment(document_id=doc_id, generation=2), 0.8)
    assert review_messages(broker) == []


def test_no_taxonomy_gives_no_classifier_margin() -> None:
    """A tenant without a taxonomy is classified with method "none" and margin 0: that says
    nothing about the document, so it must not zero the document's confidence."""
    from documind.db.models import Document

    from documind_embed.enrichment import classifier_margin

    none = Document(metadata_={"classification": {"method": "none", "margin": 0.0, "labels": []}})
    zero_shot = Document(metadata_={"classification": {"method": "zero-shot", "margin": 0.04, "labels": []}})
    assert classifier_margin(none) is None
    assert classifier_margin(zero_shot) == 0.04
    assert classifier_margin(Document(metadata_={})) is None


@pytest.mark.parametrize("round_", range(4))
def test_concurrent_finishes_of_one_document_both_succeed(sessions: SessionFactory, broker: StubBroker, round_: int) -> None:
    """The completion's and the classifier's FinishEnrichment can run at once; the second used
    to fail on the record's primary key in embedded mode (SQLite has no row lock to order them)."""
    import threading

    store, doc_id = make_document(sessions, [0.95, 0.4])
    store.complete(doc_id, 1)
    work = FinishEnrichment(document_id=doc_id, generation=1, tenant="acme")
    start, errors, results = threading.Barrier(4), [], []

    def finish() -> None:
        start.wait()
        try:
            results.append(finish_document(sessions, Bus(broker), work, threshold=0.8))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=finish) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(results) == 4
    with sessions() as s:
        assert s.get(DocumentEnrichment, doc_id).low_confidence_chunks == 1
