"""A decision written back (documind.validation.writeback, training) on a migrated SQLite
database: an approval confirms the chunk's label and entities and folds its confidence (the
machine's kept), the document's figure is recomputed from its chunks; a correction with
labels replaces the chunk's label and adds to the document's (RefreshPayload sent); the
re-enrichment of corrected text keeps the validated figure; enough validated labels send one
TrainClassifier; a correction or rejection leaves an outbox mark; the retention rule removes
only old, finished, non-correction tasks and keeps what training and the audit need."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from documind import audit
from documind.contracts import RefreshPayload, TrainClassifier
from documind.db.engine import SessionFactory, transaction
from documind.db.models import (
    AuditEntry, Chunk, ChunkEnrichment, ChunkValidation, ClassifierTrainingMark, Document, TaskStatus, ValidationAnswer,
    ValidationTask, Verdict, utcnow,
)
from documind.index_versions import MemoryIndexVersions
from documind.settings import Settings
from documind.taxonomy import add_label
from documind.validation.answers import Answers
from documind.validation.assignment import Assignment
from documind.validation.training import train_validated, trigger, validated_examples
from documind.validation.validators import Validators
from documind.validation.writeback import fold_validated

from tests.unit.test_validation_tasks import Sent, completed_document, open_, review


def enrich(sessions: SessionFactory, doc_id: str, figures: dict[int, float]) -> None:
    with transaction(sessions) as s:
        for chunk in s.scalars(select(Chunk).where(Chunk.document_id == doc_id)):
            s.add(ChunkEnrichment(chunk_id=chunk.id, document_id=doc_id, generation=1, idx=chunk.idx, sentiment=0.0,
                                  sentiment_label="neutral", quality={}, confidence=figures[chunk.idx], reasons=[]))
            chunk.classification = {"name": "finance", "score": 0.6}
        doc = s.get(Document, doc_id)
        doc.metadata_ = {"labels": ["finance"]}


def setup(sessions: SessionFactory, min_validated: int = 0):  # noqa: ANN201
    assignment = Assignment(sessions, assign_timeout_s=3600)
    sent = Sent()
    Validators(sessions, 3600).add("ann", languages=[], capacity=50)
    return assignment, Answers(sessions, assignment, sent, MemoryIndexVersions(), min_validated), sent


def take(assignment: Assignment) -> int:
    return assignment.next_task("ann")["task_id"]


def test_approve_confirms_and_folds_confidence(sessions: SessionFactory) -> None:
    doc = completed_document(sessions, chunks=4)  # every chunk "chunk i text": equal lengths
    enrich(sessions, doc, {0: 0.9, 1: 0.5, 2: 0.8, 3: 0.3})
    open_(sessions, review(doc, [1, 3]))
    assignment, answers, _sent = setup(sessions)
    out = answers.answer(take(assignment), "ann", Verdict.APPROVE)
    assert out["outcome"] == "approve"
    with sessions() as s:
        # the least confident (chunk 1, 0.5 + 0.001) first
        v = s.scalar(select(ChunkValidation))
        assert (v.idx, v.verdict, v.labels, v.entities_confirmed, v.confirmed_by, v.confidence) == (
            1, "approve", ["finance"], True, "ann", 1.0)
        en = s.scalar(select(ChunkEnrichment).where(ChunkEnrichment.idx == 1))
        assert (en.confidence, en.machine_confidence) == (1.0, 0.5)
        d = s.get(Document, doc)
        assert d.validated_confidence == round((0.9 + 1.0 + 0.8 + 0.3) / 4, 4)
        assert d.validated_at is None  # chunk 3's task is still open
    answers.answer(take(assignment), "ann", Verdict.REJECT)
    with sessions() as s:
        d = s.get(Document, doc)
        assert d.validated_at is not None
        assert d.validated_confidence == round((0.9 + 1.0 + 0.8) / 3, 4)  # the rejected chunk left
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.entity_type == "chunk"))]
        assert "confirm:approve" in actions and "confirm:reject" in actions
        assert s.scalar(select(Chunk.revision_pending_at).where(Chunk.document_id == doc, Chunk.idx == 3)) is not None
        assert s.scalar(select(Chunk.revision_pending_at).where(Chunk.document_id == doc, Chunk.idx == 1)) is None
    with sessions() as s:
        assert audit.verify(s).ok


def test_correction_with_labels_replaces_the_label_and_keeps_the_figure(sessions: SessionFactory) -> None:
    doc = completed_document(sessions, chunks=2)
    enrich(sessions, doc, {0: 0.4, 1: 0.9})
    open_(sessions, review(doc, [0]))
    assignment, answers, sent = setup(sessions)
    answers.answer(take(assignment), "ann", Verdict.CORRECT, text="chunk 0 text, fixed", labels=["shipping"])
    assert RefreshPayload(document_id=doc, generation=1, tenant="acme") in sent
    with sessions() as s:
        chunk = s.scalar(select(Chunk).where(Chunk.document_id == doc, Chunk.idx == 0))
        assert chunk.classification == {"name": "shipping", "score": 1.0, "validated": True}
        assert chunk.revision_pending_at is not None  # the outbox: its revision not yet indexed
        assert s.get(Document, doc).metadata_["labels"] == ["finance", "shipping"]
        v = s.get(ChunkValidation, chunk.id)
        assert v.labels_corrected and not v.entities_confirmed  # new text: its entities are the machine's
        chunk_id = chunk.id
    # The embed service re-enriches the new text: its machine figure is kept, the validated one stays.
    with transaction(sessions) as s:
        s.delete(s.get(ChunkEnrichment, chunk_id))
        s.flush()
        s.add(ChunkEnrichment(chunk_id=chunk_id, document_id=doc, generation=1, idx=0, sentiment=0.0,
                              sentiment_label="neutral", quality={}, confidence=0.62, reasons=[]))
        fold_validated(s, [chunk_id])
    with sessions() as s:
        en = s.get(ChunkEnrichment, chunk_id)
        assert (en.confidence, en.machine_confidence) == (1.0, 0.62)


def test_enough_validated_labels_send_one_trigger(sessions: SessionFactory) -> None:
    add_label(sessions, "acme", "finance", "money, invoices and payments")
    add_label(sessions, "acme", "shipping", "ships, cargo and harbours")
    doc = completed_document(sessions, chunks=5)
    enrich(sessions, doc, {i: 0.3 for i in range(5)})
    open_(sessions, review(doc, list(range(5))))
    assignment, answers, sent = setup(sessions, min_validated=3)
    for i in range(5):
        labels = ["unknown-label"] if i == 4 else None  # outside the taxonomy: not an example
        answers.answer(take(assignment), "ann", Verdict.APPROVE, labels=labels)
    triggers = [m for m in sent if isinstance(m, TrainClassifier)]
    # From 3 validated "finance" examples on, every decision with labels triggers until a
    # training raised the watermark (the receiver trains once per count: see below).
    assert [t.validated_examples for t in triggers] == [3, 4, 4]
    assert all(t.tenant == "acme" for t in triggers)
    assert len(validated_examples(sessions, "acme", {"finance", "shipping"})) == 4
    with transaction(sessions) as s:
        s.add(ClassifierTrainingMark(tenant="acme", validated_examples=4))
    assert not trigger(sessions, sent, "acme", 3)  # trained from all 4: nothing new


class Fake:
    """A stand-in encoder: texts -> deterministic unit vectors (no model in unit tests)."""

    model_name = "fake"

    def encode(self, texts):  # noqa: ANN001, ANN201
        import numpy as np

        out = []
        for t in texts:
            v = np.zeros(8, dtype=np.float32)
            v[0 if "fixed" in t else 1] = 1.0
            v[2 + len(t) % 6] = 0.5
            out.append(v / np.linalg.norm(v))
        return np.stack(out)


def test_train_validated_is_once_per_watermark(sessions: SessionFactory) -> None:
    add_label(sessions, "acme", "finance", "money")
    add_label(sessions, "acme", "shipping", "ships")
    doc = completed_document(sessions, chunks=4)
    enrich(sessions, doc, {i: 0.3 for i in range(4)})
    open_(sessions, review(doc, list(range(4))))
    assignment, answers, sent = setup(sessions, min_validated=2)
    for i in range(4):
        if i < 2:
            answers.answer(take(assignment), "ann", Verdict.APPROVE)  # confirms "finance"
        else:
            answers.answer(take(assignment), "ann", Verdict.CORRECT, text=f"chunk {i} fixed", labels=["shipping"])
    first = train_validated(sessions, Fake(), "acme", min_examples=2, at_least=4)
    assert first["trained"] and first["validated_examples"] == 4
    assert set(first["labels"]) == {"finance", "shipping"}
    again = train_validated(sessions, Fake(), "acme", min_examples=2, at_least=4)  # a redelivery
    assert again["trained"] is False
    with sessions() as s:
        assert s.get(ClassifierTrainingMark, "acme").validated_examples == 4
    assert not trigger(sessions, sent, "acme", 2)  # nothing new since the training


def test_retention_rule_removes_only_old_finished_tasks(sessions: SessionFactory, tmp_path) -> None:  # noqa: ANN001
    from documind_maintenance.cleanup import Cleanup
    from documind_maintenance.validation_retention import VALIDATION_TASKS_RULE

    doc = completed_document(sessions, chunks=6)
    enrich(sessions, doc, {i: 0.3 for i in range(6)})
    open_(sessions, review(doc, list(range(6))))
    assignment, answers, _ = setup(sessions)
    verdicts = [Verdict.APPROVE, Verdict.REJECT, Verdict.CORRECT, Verdict.APPROVE]  # chunk 0..3
    for v in verdicts:
        tid = take(assignment)
        answers.answer(tid, "ann", v, text="chunk fixed" if v is Verdict.CORRECT else None)
    old = utcnow() - timedelta(days=200)
    with transaction(sessions) as s:
        tasks = {t.chunk_idx: t for t in s.scalars(select(ValidationTask))}
        for idx in (0, 1, 2):
            tasks[idx].answered_at = old  # approve, reject, correct: decided long ago
        tasks[3].answered_at = utcnow() - timedelta(days=10)  # approve, recent
        tasks[4].created_at = old  # still open, old
        tasks[5].status, tasks[5].created_at = TaskStatus.SUPERSEDED, old
    settings = Settings(validation_task_retention_days=180)
    report = Cleanup(sessions, settings, tmp_path / "files", temp_root=tmp_path, rules=[VALIDATION_TASKS_RULE]).run()
    assert report.rows["validation_tasks"] == 3
    with sessions() as s:
        left = sorted(t.chunk_idx for t in s.scalars(select(ValidationTask)))
        assert left == [2, 3, 4]  # the correction, the recent approval, the open task
        assert {a.task_id for a in s.scalars(select(ValidationAnswer))} == {tasks[2].id, tasks[3].id}
        assert len(s.scalars(select(ChunkValidation)).all()) == 4  # the confirmations stay
    with sessions() as s:
        assert audit.verify(s).ok
    keep = Settings(validation_task_retention_days=0)
    assert Cleanup(sessions, keep, tmp_path / "files", temp_root=tmp_path,
                   rules=[VALIDATION_TASKS_RULE]).run().rows["validation_tasks"] == 0


def test_outbox_resend_picks_only_old_pending_and_drops_moot_ones(sessions: SessionFactory) -> None:
    from documind.contracts import EmbedChunks, IndexChunks
    from documind.db.models import DocumentStatus
    from documind_maintenance.revisions import resend_revisions

    live, gone = completed_document(sessions, chunks=3), completed_document(sessions, chunks=1, sha="b" * 64)
    old = utcnow() - timedelta(hours=1)
    with transaction(sessions) as s:
        chunks = {(c.document_id, c.idx): c for c in s.scalars(select(Chunk))}
        chunks[(live, 0)].revision_pending_at = old  # a correction: no vector yet
        chunks[(live, 1)].revision_pending_at, chunks[(live, 1)].embedding = old, b"\0" * 8  # embedded, not indexed
        chunks[(live, 2)].revision_pending_at = utcnow()  # within the grace period
        chunks[(gone, 0)].revision_pending_at = old
        s.get(Document, gone).status = DocumentStatus.DELETED
    sent = Sent()
    assert sorted(resend_revisions(sessions, sent, 300)) == sorted([chunks[(live, 0)].id, chunks[(live, 1)].id])
    assert [(type(m), m.start, m.revision) for m in sent] == [(EmbedChunks, 0, True), (IndexChunks, 1, True)]
    with sessions() as s:
        pending = {c.idx: c.revision_pending_at for c in s.scalars(select(Chunk).where(Chunk.document_id == live))}
        assert all(t is not None and t > old for t in pending.values())  # re-sent: the clock starts again
        assert s.scalar(select(Chunk.revision_pending_at).where(Chunk.document_id == gone)) is None  # moot
    assert resend_revisions(sessions, Sent(), 300) == []  # nothing due again yet
