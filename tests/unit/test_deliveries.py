"""Delivery counting, dead letters and the actor error policy (documind.tasks.declare) on the
embedded runtime: Dramatiq's StubBroker, a real Worker, SQLite in tmp_path."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import dramatiq
import pytest
from sqlalchemy import select

from documind.contracts import ProcessDocument, Queues
from documind.db.engine import SessionFactory
from documind.broker import start_time_limits
from documind.db.models import DeadLetter, DocumentStatus
from documind.errors import EncryptedFile, Fenced, TransientError
from documind.middleware.deliveries import DeliveryCounter, MemoryReceipts, dead_letter
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload
from documind.tasks import declare

MAX_RETRIES = 2


# ---- DeliveryCounter and dead_letter on their own -----------------------------------------


def test_memory_receipts_count_per_message_id() -> None:
    receipts = MemoryReceipts()
    assert [receipts.count("msg-1") for _ in range(3)] == [1, 2, 3]
    assert receipts.count("msg-2") == 1


def test_memory_receipts_stay_bounded() -> None:
    receipts = MemoryReceipts(max_entries=2)
    receipts.count("a"), receipts.count("b"), receipts.count("c")
    assert receipts.count("a") == 1  # forgotten: the oldest went first
    assert receipts.count("c") == 2


def test_dead_letter_writes_a_row(sessions: SessionFactory) -> None:
    message = dramatiq.Message(
        queue_name=Queues.EMBED,
        actor_name="embed.embed_chunks",
        args=({"document_id": "doc-1", "generation": 1, "start": 0, "end": 4},),
        kwargs={},
        options={},
    )
    dead_letter(sessions, message, "gave up")
    with sessions() as s:
        rows = s.scalars(select(DeadLetter)).all()
    assert len(rows) == 1
    row = rows[0]
    assert row.message_id == message.message_id
    assert (row.queue, row.actor, row.reason, row.document_id) == (
        Queues.EMBED, "embed.embed_chunks", "gave up", "doc-1"
    )
    assert row.payload == {"document_id": "doc-1", "generation": 1, "start": 0, "end": 4}
    assert row.redriven_at is None


def test_dead_letter_of_a_non_dict_payload(sessions: SessionFactory) -> None:
    message = dramatiq.Message(queue_name="q", actor_name="a", args=("x", 2), kwargs={}, options={})
    dead_letter(sessions, message, "bad")
    with sessions() as s:
        row = s.scalars(select(DeadLetter)).one()
    assert row.payload == {"args": ["x", 2]}
    assert row.document_id is None


# ---- the embedded runtime --------------------------------------------------------------


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    settings = load_settings(
        data_dir=tmp_path,
        max_retries=MAX_RETRIES,
        max_deliveries=MAX_RETRIES + 1,
        min_backoff_ms=10,
        max_backoff_ms=20,
        worker_threads=1,
    )
    rt = build_runtime(settings, configure_logs=False)
    yield rt
    rt.close()


class Recorder:
    """A handler that records each call and then does what it is told."""

    def __init__(self, behaviour: Callable[[ProcessDocument], Any]) -> None:
        self.behaviour = behaviour
        self.calls: list[ProcessDocument] = []
        self.lock = threading.Lock()

    def __call__(self, work: ProcessDocument) -> Any:
        with self.lock:
            self.calls.append(work)
        return self.behaviour(work)


def raiser(exc: BaseException) -> Callable[[ProcessDocument], Any]:
    def behaviour(_work: ProcessDocument) -> Any:
        raise exc

    return behaviour


def register_document(runtime: Runtime, sha: str = "c" * 64) -> tuple[str, int]:
    reg = runtime.status.register(
        Upload(tenant="acme", source_name="x.pdf", sha256=sha, size_bytes=10, storage_key=f"acme/{sha}")
    )
    return reg.document_id, reg.generation


def drain(runtime: Runtime, send: Callable[[], Any]) -> None:
    start_time_limits(runtime.broker)  # as EmbeddedWorkers does
    worker = dramatiq.Worker(runtime.broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        send()
        runtime.broker.join(Queues.INGEST, fail_fast=False, timeout=30_000)
        worker.join()
    finally:
        worker.stop()


def dead_letters(runtime: Runtime) -> list[DeadLetter]:
    with runtime.sessions() as s:
        return list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def test_runtime_is_embedded(runtime: Runtime, tmp_path: Path) -> None:
    from dramatiq.brokers.stub import StubBroker

    assert isinstance(runtime.broker, StubBroker)
    assert dramatiq.get_broker() is runtime.broker
    assert set(Queues.ALL) <= set(runtime.broker.get_declared_queues())
    assert (tmp_path / "documind.db").is_file()


def test_success_runs_once(runtime: Runtime) -> None:
    handler = Recorder(lambda work: None)
    declare(runtime, ProcessDocument, handler)
    doc_id, gen = register_document(runtime)
    drain(runtime, lambda: runtime.bus.send(ProcessDocument(document_id=doc_id, generation=gen)))
    assert handler.calls == [ProcessDocument(document_id=doc_id, generation=gen)]
    assert dead_letters(runtime) == []
    assert runtime.status.get(doc_id).status is DocumentStatus.RECEIVED  # type: ignore[union-attr]


def test_malformed_payload_is_dead_lettered(runtime: Runtime) -> None:
    handler = Recorder(lambda work: None)
    declare(runtime, ProcessDocument, handler)
    payload = {"document_id": "doc-x", "generation": 0}
    message = dramatiq.Message(
        queue_name=Queues.INGEST, actor_name=ProcessDocument.ACTOR, args=(payload,), kwargs={}, options={}
    )
    drain(runtime, lambda: runtime.broker.enqueue(message))
    assert handler.calls == []
    rows = dead_letters(runtime)
    assert len(rows) == 1
    assert rows[0].message_id == message.message_id
    assert rows[0].actor == ProcessDocument.ACTOR
    assert rows[0].payload == payload
    assert rows[0].document_id == "doc-x"
    assert "bad message" in rows[0].reason
    # Not retried: exactly one delivery was counted.
    counter = next(m for m in runtime.broker.middleware if isinstance(m, DeliveryCounter))
    assert counter.receipts.count(message.message_id) == 2


def test_permanent_error_fails_the_document_without_retry(runtime: Runtime) -> None:
    handler = Recorder(raiser(EncryptedFile("PDF is password protected")))
    declare(runtime, ProcessDocument, handler)
    doc_id, gen = register_document(runtime)
    drain(runtime, lambda: runtime.bus.send(ProcessDocument(document_id=doc_id, generation=gen)))
    assert len(handler.calls) == 1
    doc = runtime.status.get(doc_id)
    assert doc is not None
    assert doc.status is DocumentStatus.FAILED
    assert doc.error == "PDF is password protected"
    assert dead_letters(runtime) == []


def test_transient_error_is_retried_then_fails_the_document(runtime: Runtime) -> None:
    handler = Recorder(raiser(TransientError("database briefly away")))
    declare(runtime, ProcessDocument, handler)
    doc_id, gen = register_document(runtime)
    drain(runtime, lambda: runtime.bus.send(ProcessDocument(document_id=doc_id, generation=gen)))
    # The first attempt plus max_retries retries.
    assert len(handler.calls) == MAX_RETRIES + 1
    doc = runtime.status.get(doc_id)
    assert doc is not None
    assert doc.status is DocumentStatus.FAILED
    assert "internal error" in (doc.error or "")
    assert "TransientError" in (doc.error or "")
    rows = dead_letters(runtime)
    assert len(rows) == 1
    assert rows[0].document_id == doc_id
    assert "internal error" in rows[0].reason


def test_transient_error_then_success(runtime: Runtime) -> None:
    outcomes = iter([TransientError("blip")])

    def behaviour(work: ProcessDocument) -> None:
        exc = next(outcomes, None)
        if exc is not None:
            raise exc

    handler = Recorder(behaviour)
    declare(runtime, ProcessDocument, handler)
    doc_id, gen = register_document(runtime)
    drain(runtime, lambda: runtime.bus.send(ProcessDocument(document_id=doc_id, generation=gen)))
    assert len(handler.calls) == 2
    assert runtime.status.get(doc_id).status is DocumentStatus.RECEIVED  # type: ignore[union-attr]
    assert dead_letters(runtime) == []


def test_unexpected_error_fails_at_once(runtime: Runtime) -> None:
    handler = Recorder(raiser(ValueError("bug in the handler")))
    declare(runtime, ProcessDocument, handler)
    doc_id, gen = register_document(runtime)
    drain(runtime, lambda: runtime.bus.send(ProcessDocument(document_id=doc_id, generation=gen)))
    assert len(handler.calls) == 1
    doc = runtime.status.get(doc_id)
    assert doc is not None
    assert doc.status is DocumentStatus.FAILED
    assert "internal error" in (doc.error or "")
    assert "ValueError: bug in the handler" in (doc.error or "")
    assert len(dead_letters(runtime)) == 1


def test_time_limit_fails_the_document_and_dead_letters(runtime: Runtime) -> None:
    """TimeLimitExceeded is a BaseException: it must still reach the error policy, or the
    document stays processing and the watchdog re-runs the overlong work."""

    def slow(_work: ProcessDocument) -> None:
        for _ in range(400):  # 20 s in short sleeps: the limit's exception lands between them
            time.sleep(0.05)

    handler = Recorder(slow)
    declare(runtime, ProcessDocument, handler, time_limit_s=1)
    doc_id, gen = register_document(runtime)
    started = time.monotonic()
    drain(runtime, lambda: runtime.bus.send(ProcessDocument(document_id=doc_id, generation=gen)))
    assert time.monotonic() - started < 10
    assert len(handler.calls) == 1  # not retried: it would run into the same limit
    doc = runtime.status.get(doc_id)
    assert doc is not None
    assert doc.status is DocumentStatus.FAILED
    assert doc.error == f"{ProcessDocument.ACTOR} exceeded its time limit of 1 s"
    rows = dead_letters(runtime)
    assert len(rows) == 1
    assert rows[0].document_id == doc_id
    assert rows[0].reason == doc.error


def test_fenced_work_is_dropped_quietly(runtime: Runtime) -> None:
    handler = Recorder(raiser(Fenced("document was deleted")))
    declare(runtime, ProcessDocument, handler)
    doc_id, gen = register_document(runtime)
    drain(runtime, lambda: runtime.bus.send(ProcessDocument(document_id=doc_id, generation=gen)))
    assert len(handler.calls) == 1
    assert runtime.status.get(doc_id).status is DocumentStatus.RECEIVED  # type: ignore[union-attr]
    assert dead_letters(runtime) == []


def test_error_for_a_stale_generation_leaves_the_new_one_alone(runtime: Runtime) -> None:
    handler = Recorder(raiser(EncryptedFile("old verdict")))
    declare(runtime, ProcessDocument, handler)
    doc_id, gen = register_document(runtime)
    runtime.status.register(
        Upload(tenant="acme", source_name="x.pdf", sha256="c" * 64, size_bytes=10, storage_key="k"),
        reprocess=True,
    )
    drain(runtime, lambda: runtime.bus.send(ProcessDocument(document_id=doc_id, generation=gen)))
    doc = runtime.status.get(doc_id)
    assert doc is not None
    assert doc.generation == gen + 1
    assert doc.status is DocumentStatus.RECEIVED


def test_redelivery_past_max_deliveries_is_dead_lettered(runtime: Runtime) -> None:
    """A message seen more often than max_deliveries (e.g. its worker was SIGKILLed each time)
    is dead-lettered before the handler runs, and its document fails."""
    handler = Recorder(lambda work: None)
    declare(runtime, ProcessDocument, handler)
    doc_id, gen = register_document(runtime)
    max_deliveries = runtime.settings.max_deliveries
    message = runtime.bus.message(ProcessDocument(document_id=doc_id, generation=gen))

    def send_again_and_again() -> None:
        for _ in range(max_deliveries + 1):
            runtime.broker.enqueue(message)

    drain(runtime, send_again_and_again)
    assert len(handler.calls) == max_deliveries
    rows = dead_letters(runtime)
    assert len(rows) == 1
    assert rows[0].message_id == message.message_id
    assert "gave up after" in rows[0].reason
    doc = runtime.status.get(doc_id)
    assert doc is not None
    assert doc.status is DocumentStatus.FAILED
    assert "gave up after" in (doc.error or "")


def test_an_outage_longer_than_a_few_retries_costs_latency_not_the_document(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue: 3 retries from a 1 s backoff gave up within ~15 s, so a 30-60 s restart of
    Postgres, Redis or Qdrant failed documents. With the default retry budget (backoff scaled
    down 100x here) an outage of ~30 backoff steps is waited out, and the delivery counter does
    not take the retries for a crash loop."""
    settings = load_settings(data_dir=tmp_path, min_backoff_ms=10, max_backoff_ms=100, worker_threads=1)
    rt = build_runtime(settings, configure_logs=False)
    try:
        import time as _time

        outage_ends = _time.monotonic() + 1.5

        def flaky(_work: ProcessDocument) -> None:
            if _time.monotonic() < outage_ends:
                raise TransientError("database unavailable")

        handler = Recorder(flaky)
        declare(rt, ProcessDocument, handler)
        doc_id, gen = register_document(rt)
        drain(rt, lambda: rt.bus.send(ProcessDocument(document_id=doc_id, generation=gen)))
        assert len(handler.calls) > settings.max_deliveries  # many retries, not a crash loop
        assert dead_letters(rt) == []
        assert rt.status.get(doc_id).status is not DocumentStatus.FAILED  # type: ignore[union-attr]
    finally:
        rt.close()


def test_work_naming_another_tenant_is_dropped_as_if_the_document_were_missing(runtime: Runtime) -> None:
    handler = Recorder(lambda work: None)
    declare(runtime, ProcessDocument, handler)
    doc_id, gen = register_document(runtime)  # acme's
    drain(runtime, lambda: runtime.bus.send(ProcessDocument(document_id=doc_id, generation=gen, tenant="globex")))
    assert handler.calls == []
    assert runtime.status.get(doc_id).status is DocumentStatus.RECEIVED  # type: ignore[union-attr]
    assert dead_letters(runtime) == []
    # Its own tenant's message (and an old message naming none) is handled.
    own = ProcessDocument(document_id=doc_id, generation=gen, tenant="acme")
    drain(runtime, lambda: runtime.bus.send(own))
    assert handler.calls == [own]
