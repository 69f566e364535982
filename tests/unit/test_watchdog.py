"""The watchdog on the embedded runtime (SQLite, Dramatiq's in-process broker, no worker
consuming): work that waits in the broker is never re-driven, counted or failed; work whose
message is gone is re-driven once, and a stage that keeps dying fails after its attempts."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select, update

from documind.contracts import EmbedChunks, ProcessDocument, Queues, RunWatchdog
from documind.db.engine import transaction
from documind.locks import FileJobLock
from documind.db.models import Document, DocumentStatus, Stage, StageName, StageState, utcnow
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload
from documind_maintenance.watchdog import Watchdog


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(data_dir=tmp_path, worker_threads=1), configure_logs=False)
    yield rt
    rt.close()


def register(rt: Runtime, n: int) -> tuple[str, int]:
    reg = rt.status.register(Upload("acme", f"{n}.txt", f"{n:064d}", 1, f"acme/{n}"))
    return reg.document_id, reg.generation


def queued(rt: Runtime) -> int:
    return sum(rt.broker.queues[q].qsize() for q in rt.broker.queues)


def age(rt: Runtime, doc_id: str, seconds: float = 3600) -> None:
    """Pretend nothing touched the document for a while."""
    past = utcnow() - timedelta(seconds=seconds)
    with transaction(rt.sessions) as s:
        s.execute(update(Document).where(Document.id == doc_id).values(updated_at=past))
        s.execute(update(Stage).where(Stage.document_id == doc_id).values(heartbeat_at=past))


def stages(rt: Runtime, doc_id: str) -> dict[StageName, tuple[StageState, int]]:
    with rt.sessions() as s:
        return {st.name: (st.state, st.attempt) for st in s.scalars(select(Stage).where(Stage.document_id == doc_id))}


def watch(rt: Runtime, times: int = 1) -> dict:
    outcome: dict = {}
    for _ in range(times):
        outcome = Watchdog(rt, FileJobLock(rt.settings.data_dir / "locks")).run(RunWatchdog(stale_after_s=60))
    return outcome


def test_documents_waiting_in_the_queue_are_never_redriven_nor_failed(runtime: Runtime) -> None:
    rt = runtime
    received = register(rt, 1)  # no stage row yet
    rt.bus.send(ProcessDocument(document_id=received[0], generation=received[1]))
    handed = register(rt, 2)  # embed stage handed off, never begun
    rt.status.hand_off(*handed, StageName.EMBED, 4)
    rt.bus.send(EmbedChunks(document_id=handed[0], generation=handed[1], start=0, end=4))
    half = register(rt, 3)  # embed stage begun, first range done, second still queued
    rt.status.begin_stage(*half, StageName.EMBED, 8)
    rt.bus.send(EmbedChunks(document_id=half[0], generation=half[1], start=4, end=8))
    for doc_id, _ in (received, handed, half):
        age(rt, doc_id)
    before = (queued(rt), stages(rt, handed[0]), stages(rt, half[0]))

    outcome = watch(rt, times=rt.settings.max_deliveries + 2)

    assert outcome["redriven"] == [] and outcome["failed"] == []
    assert outcome["queued"] == sorted(d for d, _ in (received, handed, half))
    assert (queued(rt), stages(rt, handed[0]), stages(rt, half[0])) == before  # no duplicates, no attempts
    assert "failed" not in rt.status.counts()
    assert rt.metrics.watchdog_documents.labels("queued")._value.get() == 3 * (rt.settings.max_deliveries + 2)


def test_a_document_whose_message_was_lost_is_redriven_once(runtime: Runtime) -> None:
    rt = runtime
    doc = register(rt, 1)  # its ProcessDocument was never sent (or died with a process)
    age(rt, doc[0])
    assert watch(rt)["redriven"] == [doc[0]]
    assert queued(rt) == 1
    age(rt, doc[0])
    # The re-sent message now waits in the queue: the next runs leave it alone.
    again = watch(rt, times=3)
    assert again["redriven"] == [] and again["queued"] == [doc[0]]
    assert queued(rt) == 1
    assert stages(rt, doc[0]) == {}  # a re-drive of never-started work is no attempt


def test_a_stage_whose_worker_died_is_redriven_then_failed_after_its_attempts(runtime: Runtime) -> None:
    """Embedded: a process that dies takes its in-memory queue with it; the next process
    re-drives, and a stage begun ``max_deliveries`` times without finishing fails."""
    rt = runtime
    doc = register(rt, 1)
    for n in range(1, rt.settings.max_deliveries + 1):
        rt.status.begin_stage(*doc, StageName.VALIDATE)  # attempt n, then the process dies
        rt.close()
        rt = build_runtime(rt.settings, configure_logs=False)
        age(rt, doc[0])
        outcome = watch(rt)
        if n < rt.settings.max_deliveries:
            assert outcome["redriven"] == [doc[0]]
            # Not counted by the re-drive: the worker that begins it again counts.
            assert stages(rt, doc[0]) == {StageName.VALIDATE: (StageState.PENDING, n)}
    try:
        assert outcome["failed"] == [doc[0]]
        final = rt.status.get(doc[0])
        assert final.status is DocumentStatus.FAILED
        assert f"no worker finished it after {rt.settings.max_deliveries} attempts" in final.error
    finally:
        rt.close()


def test_work_that_moved_since_the_query_is_not_redriven(runtime: Runtime) -> None:
    rt = runtime
    doc = register(rt, 1)
    age(rt, doc[0])
    cutoff = utcnow()
    time.sleep(0.01)
    rt.status.begin_stage(*doc, StageName.VALIDATE)  # a worker took it after the query
    assert Watchdog(rt, FileJobLock(rt.settings.data_dir / "locks")).redrive(*doc, cutoff) == "skipped"
    assert queued(rt) == 0


def test_pending_messages_follow_a_message_from_enqueue_to_ack(runtime: Runtime) -> None:
    """The in-process broker's tracking through a worker: a message that fails once and is
    retried (re-enqueued delayed, then moved to its queue) stays pending until its last ack."""
    import dramatiq

    from documind.contracts import ProcessDocument as PD
    from documind.tasks import declare

    rt = runtime
    doc = register(rt, 1)
    calls: list[set] = []

    class Flaky(ConnectionError):
        pass

    def handler(work: PD) -> None:
        calls.append(set(rt.pending.snapshot().documents))
        if len(calls) == 1:
            raise Flaky("once")

    declare(rt, PD, handler)
    rt.bus.send(PD(document_id=doc[0], generation=doc[1]))
    assert rt.pending.snapshot().documents == {doc}
    worker = dramatiq.Worker(rt.broker, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        rt.broker.join(Queues.INGEST, timeout=30_000)
        deadline = time.monotonic() + 30
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        rt.broker.join(Queues.INGEST, timeout=30_000)
    finally:
        worker.stop()
    assert len(calls) == 2
    assert calls == [{doc}, {doc}]  # pending while running, and across the retry
    assert rt.pending.snapshot().documents == frozenset()


# ---- what a re-drive sends (issue 10 item 6) ----------------------------------------------


def sent(rt: Runtime) -> list[tuple[str, int, int]]:
    import dramatiq

    out = []
    for q in (Queues.EMBED, Queues.SEARCH):
        for raw in list(rt.broker.queues[q].queue):
            m = dramatiq.Message.decode(raw)
            out.append((m.actor_name, m.args[0]["start"], m.args[0]["end"]))
    return sorted(out)


def chunked(rt: Runtime, n: int, embedded: set[int], indexed: set[int]) -> tuple[str, int]:
    """A document of ``n`` chunks in the index stage, some embedded, some indexed."""
    import uuid

    from documind.db.models import Chunk

    doc = register(rt, 1)
    now = utcnow()
    with transaction(rt.sessions) as s:
        for i in range(n):
            s.add(Chunk(
                id=str(uuid.uuid4()), document_id=doc[0], idx=i, generation=doc[1], text=f"chunk {i}",
                token_count=2, embedded_at=now if i in embedded else None, indexed_at=now if i in indexed else None,
            ))
    rt.status.update_document(*doc, chunk_count=n)
    rt.status.begin_stage(*doc, StageName.INDEX)  # a range was indexed: the stage says INDEX
    return doc


def test_a_lost_embed_range_is_re_sent_though_the_stage_says_index(clean_env, tmp_path: Path) -> None:
    """Redis lost in a multi-range embed: range [0, 2) is indexed, [2, 4) never embedded,
    [4, 6) embedded but not indexed. Each lost range gets its own next step."""
    rt = build_runtime(load_settings(data_dir=tmp_path, embed_chunks_per_message=2), configure_logs=False)
    try:
        doc = chunked(rt, 6, embedded={0, 1, 4, 5}, indexed={0, 1})
        age(rt, doc[0])
        assert watch(rt)["redriven"] == [doc[0]]
        assert sent(rt) == [("embed.embed_chunks", 2, 4), ("search.index_chunks", 4, 6)]
    finally:
        rt.close()


def test_a_document_indexed_whole_but_never_completed_is_completed_by_its_last_range(
    clean_env, tmp_path: Path
) -> None:
    rt = build_runtime(load_settings(data_dir=tmp_path, embed_chunks_per_message=2), configure_logs=False)
    try:
        doc = chunked(rt, 5, embedded=set(range(5)), indexed=set(range(5)))
        age(rt, doc[0])
        assert watch(rt)["redriven"] == [doc[0]]
        assert sent(rt) == [("search.index_chunks", 4, 5)]
    finally:
        rt.close()


def test_a_lost_deletion_is_finished_files_removed_and_points_removal_re_sent(runtime: Runtime) -> None:
    import dramatiq

    rt = runtime
    deleted, cancelled = register(rt, 1), register(rt, 2)
    for n in (1, 2):
        rt.storage.put_bytes(f"acme/{n}", b"the stored upload")
    rt.status.mark_deleted(deleted[0])  # ... and its DeleteDocument was lost
    rt.status.cancel(cancelled[0])
    past = utcnow() - timedelta(hours=1)
    with transaction(rt.sessions) as s:
        s.execute(update(Document).values(deleted_at=past, completed_at=past))
    both = sorted([deleted[0], cancelled[0]])

    outcome = watch(rt)
    assert outcome["purged"] == both
    assert not rt.storage.exists("acme/1")
    assert rt.storage.exists("acme/2")  # a cancelled document keeps its upload
    removals = [dramatiq.Message.decode(raw).args[0]["document_id"] for raw in rt.broker.queues[Queues.SEARCH].queue]
    assert sorted(removals) == both
    # Waiting in the queue: not sent again.
    again = watch(rt)
    assert again["purged"] == [] and sorted(again["queued"]) == both
    assert rt.broker.queues[Queues.SEARCH].qsize() == 2
    # The search service removed the points: nothing left to finish.
    for doc_id in both:
        assert rt.status.mark_purged(doc_id)
    assert rt.status.unpurged(timedelta(0)) == []
