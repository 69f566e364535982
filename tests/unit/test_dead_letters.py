"""Dead letters as operators handle them (documind.dead_letters) and the messages no actor can
take (middleware.unroutable), on the embedded runtime: StubBroker, a real Worker, SQLite."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import dramatiq
import pytest
from sqlalchemy import select

from documind.contracts import Contract, DeleteDocument, EmbedChunks, Lane, ProcessDocument, Queues, known_contracts
from documind.dead_letters import DeadLetterStore, RedriveRefused
from documind.db.engine import transaction
from documind.db.models import DeadLetter, Document, DocumentStatus
from documind.middleware.deliveries import dead_letter
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload
from documind.tasks import declare


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(data_dir=tmp_path, worker_threads=1), configure_logs=False)
    yield rt
    rt.close()


def _letter(rt: Runtime, actor: str, payload: dict, reason: str = "gave up") -> int:
    message = dramatiq.Message(queue_name=Queues.INGEST, actor_name=actor, args=(payload,), kwargs={}, options={})
    dead_letter(rt.sessions, message, reason)
    with rt.sessions() as s:
        return max(s.scalars(select(DeadLetter.id)))


def _failed_document(rt: Runtime, sha: str = "d" * 64) -> tuple[str, int]:
    reg = rt.status.register(Upload("acme", "x.txt", sha, 10, f"acme/{sha}", Lane.BULK))
    rt.status.fail(reg.document_id, "gave up after 3 deliveries", generation=reg.generation)
    return reg.document_id, reg.generation


class Sent(list):
    def __call__(self, work: Contract) -> None:
        self.append(work)


def test_known_contracts_include_the_bulk_twins() -> None:
    names = known_contracts()
    assert names["ingest.process_document"] is ProcessDocument
    assert names["embed.embed_chunks_bulk"] is EmbedChunks
    assert "ingest.nonexistent" not in names


def test_failed_document_starts_over_once(runtime: Runtime) -> None:
    doc_id, gen = _failed_document(runtime)
    letter = _letter(runtime, "embed.embed_chunks_bulk",
                     {"document_id": doc_id, "generation": gen, "start": 0, "end": 4, "lane": "bulk"})
    sent = Sent()
    store = DeadLetterStore(runtime.sessions, runtime.status, sent)

    done = store.redrive(letter)

    assert "processed again from the start (generation 2)" in done
    assert sent == [ProcessDocument(document_id=doc_id, generation=gen + 1, lane=Lane.BULK, tenant="acme")]
    doc = runtime.status.get(doc_id)
    assert (doc.status, doc.generation, doc.error) == (DocumentStatus.RECEIVED, gen + 1, None)
    assert store.get(letter).redriven_at is not None
    # Exactly once: the second re-drive is refused and sends nothing.
    with pytest.raises(RedriveRefused, match="already re-driven"):
        store.redrive(letter)
    assert len(sent) == 1
    assert store.list() == [] and len(store.list(include_redriven=True)) == 1


def test_two_operators_at_once_send_it_once(runtime: Runtime) -> None:
    doc_id, gen = _failed_document(runtime)
    letter = _letter(runtime, "ingest.process_document", {"document_id": doc_id, "generation": gen})
    sent = Sent()
    store = DeadLetterStore(runtime.sessions, runtime.status, sent)
    outcomes: list[str] = []

    def go() -> None:
        try:
            outcomes.append(store.redrive(letter))
        except RedriveRefused as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sent) == 1, outcomes
    assert sum(o.startswith("refused") for o in outcomes) == 3
    assert runtime.status.get(doc_id).generation == gen + 1


def test_work_of_an_active_document_is_resent_as_it_was(runtime: Runtime) -> None:
    reg = runtime.status.register(Upload("acme", "y.txt", "e" * 64, 10, "acme/e"))
    payload = {"document_id": reg.document_id, "generation": reg.generation, "start": 0, "end": 8}
    letter = _letter(runtime, "embed.embed_chunks", payload)
    sent = Sent()
    DeadLetterStore(runtime.sessions, runtime.status, sent).redrive(letter)
    assert sent == [EmbedChunks.parse(payload)]


@pytest.mark.parametrize(
    "actor, payload, reason",
    [
        ("ingest.nonexistent", {"x": 1}, "no DocuMind actor is named"),
        ("ingest.process_document", {"document_id": "d", "generation": 0}, "it would fail again, purge it"),
    ],
)
def test_letters_that_would_fail_again_are_refused(runtime: Runtime, actor: str, payload: dict, reason: str) -> None:
    letter = _letter(runtime, actor, payload)
    sent = Sent()
    store = DeadLetterStore(runtime.sessions, runtime.status, sent)
    with pytest.raises(RedriveRefused, match=reason):
        store.redrive(letter)
    assert sent == [] and store.get(letter).redriven_at is None


def test_deleted_or_superseded_documents_are_refused(runtime: Runtime) -> None:
    doc_id, gen = _failed_document(runtime)
    old = _letter(runtime, "ingest.process_document", {"document_id": doc_id, "generation": gen})
    newer = _letter(runtime, "ingest.process_document", {"document_id": doc_id, "generation": gen})
    store = DeadLetterStore(runtime.sessions, runtime.status, Sent())
    store.redrive(newer)  # generation gen + 1 is now running
    with pytest.raises(RedriveRefused, match="is being processed again .* obsolete"):
        store.redrive(old)
    runtime.status.mark_deleted(doc_id)
    with pytest.raises(RedriveRefused, match="was deleted"):
        store.redrive(old)


def test_a_lost_delete_is_sent_again(runtime: Runtime) -> None:
    letter = _letter(runtime, "search.delete_document", {"document_id": "gone"})
    sent = Sent()
    assert DeadLetterStore(runtime.sessions, runtime.status, sent).redrive(letter) == "sent search.delete_document again"
    assert sent == [DeleteDocument(document_id="gone")]


def test_purge_by_filter_and_dry_run(runtime: Runtime) -> None:
    doc_id, gen = _failed_document(runtime)
    done = _letter(runtime, "ingest.process_document", {"document_id": doc_id, "generation": gen})
    _letter(runtime, "ingest.nonexistent", {})
    store = DeadLetterStore(runtime.sessions, runtime.status, Sent())
    store.redrive(done)
    assert store.purge(redriven_only=True, dry_run=True) == 1
    assert len(store.list(include_redriven=True)) == 2
    assert store.purge(redriven_only=True) == 1
    assert [x.actor for x in store.list(include_redriven=True)] == ["ingest.nonexistent"]
    from datetime import timedelta

    assert store.purge(older_than=timedelta(days=1)) == 0  # too young
    assert store.purge() == 1


# ---- messages no actor can take ------------------------------------------------------------


def _deliver(rt: Runtime, message: dramatiq.Message) -> None:
    worker = dramatiq.Worker(rt.broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        rt.broker.enqueue(message)
        rt.broker.join(message.queue_name, fail_fast=False, timeout=30_000)
        worker.join()
    finally:
        worker.stop()


def _dead_letter_metric(rt: Runtime, actor: str) -> float:
    return rt.metrics.dead_letters.labels(actor)._value.get()


@pytest.mark.parametrize(
    "actor, args, kwargs, reason",
    [
        ("ingest.no_such_actor", ({"document_id": "d", "generation": 1},), {}, "no actor named 'ingest.no_such_actor'"),
        ("ingest.process_document", ("d", 1), {}, "expected one JSON object, got 2 positional"),
        ("ingest.process_document", ([1, 2],), {}, "expected one JSON object, got 1 positional"),
        ("ingest.process_document", (), {"document_id": "d"}, "and 1 keyword arguments"),
    ],
)
def test_unroutable_messages_are_dead_lettered_not_retried(
    runtime: Runtime, actor: str, args: tuple, kwargs: dict, reason: str
) -> None:
    calls: list = []
    declare(runtime, ProcessDocument, calls.append)
    message = dramatiq.Message(queue_name=Queues.INGEST, actor_name=actor, args=args, kwargs=kwargs, options={})
    _deliver(runtime, message)
    with runtime.sessions() as s:
        rows = s.scalars(select(DeadLetter)).all()
    assert len(rows) == 1 and reason in rows[0].reason, [r.reason for r in rows]
    assert calls == []
    label = "unknown" if actor.endswith("no_such_actor") else actor
    if label != "unknown":  # Dramatiq rejects an unknown actor into its own queue too
        assert runtime.broker.dead_letters == []
    assert _dead_letter_metric(runtime, label) == 1.0


def test_a_crash_loop_counts_in_the_dead_letter_metric(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    rt = build_runtime(
        load_settings(data_dir=tmp_path, worker_threads=1, max_retries=0, max_deliveries=1), configure_logs=False
    )
    try:
        declare(rt, ProcessDocument, lambda work: None)
        reg = rt.status.register(Upload("acme", "z.txt", "f" * 64, 10, "acme/f"))
        message = ProcessDocument(document_id=reg.document_id, generation=reg.generation)
        msg = dramatiq.Message(queue_name=message.queue, actor_name=message.actor, args=(message.payload(),),
                               kwargs={}, options={})
        # The same message id received twice: the second receipt is one too many.
        from documind.middleware.deliveries import DeliveryCounter

        counter = next(m for m in rt.broker.middleware if isinstance(m, DeliveryCounter))
        counter.receipts.count(msg.message_id)
        _deliver(rt, msg)
        assert _dead_letter_metric(rt, message.actor) == 1.0
        with transaction(rt.sessions) as s:
            assert s.scalar(select(Document.status)) is DocumentStatus.FAILED
    finally:
        rt.close()
