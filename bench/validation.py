"""Validation: task-assignment throughput under concurrency, and what the audit trail costs
the pipeline's status transitions. Both on a scratch Postgres database of their own.

(A) ``validation_tasks`` tasks are opened (as ``validate.review_chunks`` opens them);
validators (capacity 2) take and approve them (``Assignment.next_task`` +
``Answers.answer``, what ``documind validate next`` / ``approve`` run) from one thread,
then again (fresh tasks) from ``validation_threads`` threads spread over
``validation_validators`` validators. Reported: tasks/s for each, the ratio concurrent /
single (above 1: the ``SKIP LOCKED`` path scales; ~1: serialized), and a check that no task
was answered twice. (B) ``audit_docs`` documents go through the status transitions of a
small ingest (register, 5 stage begins, a hand-off, complete: 8 audited changes each) with
the audit trail on, and with ``documind.audit.record`` replaced by a no-op (the baseline,
alternating, same run): milliseconds per document and the ratio on / off."""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.common import Context, ScratchDatabase, load_average, log, ratio, summary


def _setup(url: str):  # noqa: ANN202
    from documind.db.engine import build_engine, build_session_factory

    engine = build_engine(url)
    return engine, build_session_factory(engine)


def _open(sessions, n_tasks: int, tag: str) -> None:  # noqa: ANN001
    from documind.contracts import LowConfidenceChunk, ReviewChunks
    from documind.db.engine import transaction, write_transaction
    from documind.db.models import Chunk, Document
    from documind.status import StatusStore, Upload
    from documind.validation.tasks import open_tasks

    store = StatusStore(sessions)
    per_doc = 50
    for d in range((n_tasks + per_doc - 1) // per_doc):
        reg = store.register(Upload("bench", f"{tag}-{d}.txt", f"{tag}{d}".ljust(64, "0")[:64], 1, "k"))
        n = min(per_doc, n_tasks - d * per_doc)
        with transaction(sessions) as s:
            s.get(Document, reg.document_id).chunk_count = n
            s.add_all(Chunk(id=f"{reg.document_id[:8]}-{tag}-{i}", document_id=reg.document_id, idx=i, generation=1,
                            text=f"chunk {i}", token_count=2, element_types=[]) for i in range(n))
        store.complete(reg.document_id, 1)
        work = ReviewChunks(document_id=reg.document_id, generation=1, document_confidence=0.6,
                            chunks=[LowConfidenceChunk(idx=i, confidence=0.5) for i in range(n)])
        with write_transaction(sessions) as s:
            open_tasks(s, work, threshold=0.8, required_answers=1)


def _drain(sessions, names: list[str], threads: int) -> tuple[float, list[int]]:  # noqa: ANN001
    from documind.db.models import Verdict
    from documind.index_versions import MemoryIndexVersions
    from documind.validation.answers import Answers
    from documind.validation.assignment import Assignment

    assignment = Assignment(sessions, 3600)
    answers = Answers(sessions, assignment, lambda m: None, MemoryIndexVersions())
    done: list[int] = []
    lock = threading.Lock()

    def work(name: str) -> None:
        while (task := assignment.next_task(name)) is not None:
            try:
                answers.answer(task["task_id"], name, Verdict.APPROVE)
            except Exception:  # noqa: BLE001 - a twin thread of the same validator answered it
                continue
            with lock:
                done.append(task["task_id"])

    pool = [threading.Thread(target=work, args=(names[i % len(names)],)) for i in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, done


def _lifecycle(sessions, n: int, tag: str) -> float:  # noqa: ANN001
    from documind.db.models import StageName
    from documind.status import StatusStore, Upload

    store = StatusStore(sessions)
    started = time.perf_counter()
    for i in range(n):
        reg = store.register(Upload("bench", f"{tag}{i}.txt", f"{tag}{i}".ljust(64, "f")[:64], 1, "k"))
        for stage in (StageName.VALIDATE, StageName.EXTRACT, StageName.CHUNK):
            store.begin_stage(reg.document_id, reg.generation, stage)
        store.hand_off(reg.document_id, reg.generation, StageName.EMBED, 1)
        store.begin_stage(reg.document_id, reg.generation, StageName.EMBED)
        store.begin_stage(reg.document_id, reg.generation, StageName.INDEX)
        store.complete(reg.document_id, reg.generation)
    return (time.perf_counter() - started) / n * 1000


def measure(ctx: Context) -> dict[str, Any]:
    import documind.audit as audit_module
    from documind.validation.validators import Validators

    p = ctx.params
    n_tasks, threads, n_validators = p["validation_tasks"], p["validation_threads"], p["validation_validators"]
    db = ScratchDatabase("validation")
    engine, sessions = _setup(db.url)
    try:
        names = [f"v{i}" for i in range(n_validators)]
        registry = Validators(sessions, 3600)
        for name in names:
            registry.add(name, [], 2)
        _open(sessions, n_tasks, "single")
        single_s, single_done = _drain(sessions, names[:1], 1)
        _open(sessions, n_tasks, "multi")
        multi_s, multi_done = _drain(sessions, names, threads)
        duplicates = len(multi_done) - len(set(multi_done)) + len(single_done) - len(set(single_done))
        single_rate, multi_rate = len(single_done) / single_s, len(multi_done) / multi_s
        log(f"validation: {single_rate:.0f} tasks/s single, {multi_rate:.0f} tasks/s with {threads} threads")

        real_record = audit_module.record
        on, off = [], []
        for r in range(p["audit_repeats"]):
            on.append(_lifecycle(sessions, p["audit_docs"], f"on{r}-"))
            audit_module.record = lambda *a, **k: 0  # the baseline: the same transitions, no audit row
            try:
                off.append(_lifecycle(sessions, p["audit_docs"], f"off{r}-"))
            finally:
                audit_module.record = real_record
        on_s, off_s = summary(on, 3), summary(off, 3)
        return {
            "status": "ok",
            "assignment": {
                "tasks": n_tasks, "threads": threads, "validators": n_validators,
                "single_tasks_per_s": round(single_rate, 1), "concurrent_tasks_per_s": round(multi_rate, 1),
                "ratio_concurrent_to_single": ratio(multi_rate, single_rate),
                "answered": {"single": len(single_done), "concurrent": len(multi_done)},
                "tasks_answered_twice": duplicates,
            },
            "audit": {
                "documents": p["audit_docs"], "transitions_per_document": 8,
                "ms_per_document": {"audit_on": on_s, "audit_off": off_s},
                "ratio_on_to_off_p50": ratio(on_s.get("p50"), off_s.get("p50")),
            },
            "load_average": load_average(),
        }
    finally:
        engine.dispose()
        db.close()
