"""documind.validation on a migrated SQLite database (the embedded mode's store): task
creation is idempotent, assignment respects fit and capacity and never hands one task to
two threads, answers decide (a third validator breaks a tie), batches are all or nothing,
and every change lands in a verifying audit chain."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from documind import audit
from documind.contracts import EmbedChunks, IndexChunks, LowConfidenceChunk, ReviewChunks
from documind.db.engine import SessionFactory, transaction, write_transaction
from documind.db.models import Chunk, Document, TaskStatus, ValidationTask, Verdict
from documind.errors import Fenced
from documind.index_versions import MemoryIndexVersions
from documind.status import StatusStore, Upload
from documind.validation.answers import Answers, decide
from documind.validation.assignment import Assignment
from documind.validation.errors import ValidationRefused
from documind.validation.tasks import open_tasks
from documind.validation.validators import Validators


def completed_document(sessions: SessionFactory, chunks: int = 6, sha: str = "a" * 64, lang: str | None = None) -> str:
    store = StatusStore(sessions)
    reg = store.register(Upload(tenant="acme", source_name="x.txt", sha256=sha, size_bytes=1, storage_key="k"))
    with transaction(sessions) as s:
        doc = s.get(Document, reg.document_id)
        doc.chunk_count = chunks
        if lang:
            doc.metadata_ = {"language": lang}
        for i in range(chunks):
            s.add(Chunk(id=f"{reg.document_id[:8]}-{i}", document_id=doc.id, idx=i, generation=1,
                        text=f"chunk {i} text", token_count=3, element_types=[]))
    store.complete(reg.document_id, 1)
    return reg.document_id


def review(doc_id: str, idxs: list[int], confidence: float = 0.3, generation: int = 1) -> ReviewChunks:
    return ReviewChunks(document_id=doc_id, generation=generation, document_confidence=0.7,
                        chunks=[LowConfidenceChunk(idx=i, confidence=min(confidence + i / 1000, 1.0)) for i in idxs])


def open_(sessions: SessionFactory, work: ReviewChunks, required: int = 1) -> list[int]:
    with write_transaction(sessions) as s:
        return open_tasks(s, work, threshold=0.8, required_answers=required)


class Sent(list):
    def __call__(self, message) -> None:  # noqa: ANN001
        self.append(message)


@pytest.fixture
def parts(sessions: SessionFactory):  # noqa: ANN201
    assignment = Assignment(sessions, assign_timeout_s=3600)
    sent = Sent()
    return Validators(sessions, 3600), assignment, Answers(sessions, assignment, sent, MemoryIndexVersions()), sent


def count_tasks(sessions: SessionFactory) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(ValidationTask))


def test_redelivered_review_opens_nothing_twice(sessions: SessionFactory) -> None:
    doc = completed_document(sessions)
    work = review(doc, [1, 2, 99])  # 99: no such chunk
    assert len(open_(sessions, work)) == 2
    assert open_(sessions, work) == []
    assert count_tasks(sessions) == 2
    # above the threshold: no task
    assert open_(sessions, review(doc, [3], confidence=0.85)) == []


def test_review_of_a_deleted_document_is_fenced(sessions: SessionFactory) -> None:
    doc = completed_document(sessions)
    StatusStore(sessions).mark_deleted(doc)
    with pytest.raises(Fenced):
        open_(sessions, review(doc, [1]))


def test_assignment_respects_language_capacity_and_load(sessions: SessionFactory, parts) -> None:  # noqa: ANN001
    validators, assignment, _, _ = parts
    doc = completed_document(sessions, lang="de")
    open_(sessions, review(doc, [0, 1, 2, 3]))
    validators.add("en-only", ["en"], 5)
    validators.add("anna", ["de", "en"], 2)
    validators.add("bert", ["de"], 2)
    assert assignment.next_task("en-only") is None  # nothing in English
    assert assignment.assign_open() == 4  # least loaded first: 2 each
    loads = {v["name"]: v["load"] for v in validators.list()}
    assert loads == {"anna": 2, "bert": 2, "en-only": 0}
    first = assignment.next_task("anna")
    assert first is not None and first["assigned_to"] == "anna"
    assert assignment.next_task("anna")["task_id"] == first["task_id"]  # held: the same again


def test_lapsed_assignment_is_taken_by_another(sessions: SessionFactory) -> None:
    doc = completed_document(sessions)
    open_(sessions, review(doc, [0]))
    Validators(sessions, 3600).add("a", [], 1)
    Validators(sessions, 3600).add("b", [], 1)
    quick = Assignment(sessions, assign_timeout_s=0.001)
    t = quick.next_task("a")
    import time

    time.sleep(0.01)
    t2 = quick.next_task("b")
    assert t2 is not None and t2["task_id"] == t["task_id"] and t2["assigned_to"] == "b"


def test_threads_never_get_the_same_task(sessions: SessionFactory, parts) -> None:  # noqa: ANN001
    validators, assignment, answers, _ = parts
    for n in range(3):
        doc = completed_document(sessions, chunks=10, sha=f"{n}" * 64)
        open_(sessions, review(doc, list(range(10))))
    names = [f"v{i}" for i in range(6)]
    for name in names:
        validators.add(name, [], 1)
    taken: dict[str, list[int]] = {n: [] for n in names}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while (task := assignment.next_task(name)) is not None:
                taken[name].append(task["task_id"])
                answers.answer(task["task_id"], name, Verdict.APPROVE)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    all_ids = [i for ids in taken.values() for i in ids]
    assert len(all_ids) == 30 and len(set(all_ids)) == 30
    with sessions() as s:
        assert audit.verify(s).ok


def test_decide_rules() -> None:
    from documind.db.models import ValidationAnswer

    def a(verdict: str, text: str | None = None) -> ValidationAnswer:
        return ValidationAnswer(verdict=Verdict(verdict), text=text)

    assert decide([a("approve")], 1).verdict is Verdict.APPROVE
    assert decide([a("approve")], 2) is None
    assert decide([a("approve"), a("reject")], 2) is None  # a third decides
    d = decide([a("approve"), a("reject"), a("reject")], 2)
    assert d.verdict is Verdict.REJECT and d.agreement == pytest.approx(2 / 3)
    d = decide([a("approve"), a("reject"), a("correct", "x")], 2)
    assert d.verdict is Verdict.CORRECT and d.text == "x"  # no majority: the third's answer
    assert decide([a("correct", "x"), a("correct", "y")], 2) is None  # different corrections disagree


def test_two_answers_disagree_third_decides_and_reliability(sessions: SessionFactory, parts) -> None:  # noqa: ANN001
    validators, assignment, answers, sent = parts
    doc = completed_document(sessions, chunks=4)
    (task_id,) = open_(sessions, review(doc, [2]), required=2)
    for name in ("a", "b", "c"):
        validators.add(name, [], 3)
    assert assignment.next_task("a")["task_id"] == task_id
    assert answers.answer(task_id, "a", Verdict.APPROVE)["status"] == "open"
    assert assignment.next_task("a") is None  # never the same task twice for one validator
    assert assignment.next_task("b")["task_id"] == task_id
    assert answers.answer(task_id, "b", Verdict.CORRECT, text="fixed text")["status"] == "open"
    assert assignment.next_task("c")["task_id"] == task_id
    final = answers.answer(task_id, "c", Verdict.CORRECT, text="fixed text")
    assert final["status"] == "answered" and final["outcome"] == "correct"
    stats = {v["name"]: v for v in validators.stats()}
    assert stats["a"]["reliability"] == 0.0 and stats["b"]["reliability"] == 1.0
    with sessions() as s:
        chunk = s.scalar(select(Chunk).where(Chunk.document_id == doc, Chunk.idx == 2))
        assert chunk.text == "fixed text" and chunk.embedding is None
        d = s.get(Document, doc)
        assert d.validated_at is not None and d.validated_confidence is not None
    assert {type(m) for m in sent} == {EmbedChunks, IndexChunks} and all(m.revision for m in sent)


def test_answer_needs_the_task_held(sessions: SessionFactory, parts) -> None:  # noqa: ANN001
    validators, assignment, answers, _ = parts
    doc = completed_document(sessions)
    (task_id,) = open_(sessions, review(doc, [0]))
    validators.add("a", [], 1)
    with pytest.raises(ValidationRefused):
        answers.answer(task_id, "a", Verdict.APPROVE)
    assignment.next_task("a")
    assignment.release(task_id, "a")
    with pytest.raises(ValidationRefused):
        answers.answer(task_id, "a", Verdict.APPROVE)


def test_batch_is_all_or_nothing(sessions: SessionFactory, parts) -> None:  # noqa: ANN001
    """A chunk deleted under one task (its document re-chunked by hand: a real row gone)
    fails the batch in the middle: nothing is decided, no audit entry is added."""
    _, _, answers, sent = parts
    doc = completed_document(sessions)
    ids = open_(sessions, review(doc, [0, 1, 2, 3]))
    with transaction(sessions) as s:
        s.execute(Chunk.__table__.delete().where(Chunk.document_id == doc, Chunk.idx == 2))
    with sessions() as s:
        before = audit.verify(s).entries
    with pytest.raises(ValidationRefused):
        answers.batch(Verdict.REJECT, by="lead", document_id=doc)
    with sessions() as s:
        assert all(s.get(ValidationTask, i).status is TaskStatus.OPEN for i in ids)
        assert s.scalar(select(func.count()).where(Chunk.rejected_at.is_not(None))) == 0
        assert audit.verify(s).entries == before
    assert sent == []
    with transaction(sessions) as s:
        s.execute(ValidationTask.__table__.delete().where(ValidationTask.chunk_idx == 2))
    out = answers.batch(Verdict.APPROVE, by="lead", document_id=doc)
    assert out["decided"] == 3
    with sessions() as s:
        assert s.get(Document, doc).validated_at is not None
        assert audit.verify(s).ok


def test_reprocessing_or_deleting_supersedes_open_tasks(sessions: SessionFactory, parts) -> None:  # noqa: ANN001
    validators, assignment, _, _ = parts
    doc = completed_document(sessions)
    open_(sessions, review(doc, [0, 1]))
    validators.add("a", [], 5)
    assert assignment.next_task("a") is not None
    StatusStore(sessions).register(Upload(tenant="acme", source_name="x.txt", sha256="a" * 64, size_bytes=1,
                                          storage_key="k"), reprocess=True)
    with sessions() as s:
        assert set(s.scalars(select(ValidationTask.status))) == {TaskStatus.SUPERSEDED}
    assert assignment.next_task("a") is None
