"""Validation on a fresh Postgres database: many threads of several validators taking
tasks at once never get the same one (``FOR UPDATE SKIP LOCKED``), capacity is never
exceeded, a redelivered ``ReviewChunks`` opens no duplicate, and a batch whose middle task
is locked by another transaction fails whole (NOWAIT), leaving no decision and no audit
entry behind."""

from __future__ import annotations

import threading
from typing import Iterator

import pytest
from sqlalchemy import func, select, text

from documind import audit
from documind.db.engine import build_engine, build_session_factory, transaction, write_transaction
from documind.db.models import TaskStatus, ValidationTask, Verdict
from documind.index_versions import MemoryIndexVersions
from documind.validation.answers import Answers
from documind.validation.assignment import Assignment
from documind.validation.tasks import open_tasks
from documind.validation.validators import Validators

from tests.integration.harness import migrated_database
from tests.unit.test_validation_tasks import completed_document, review

pytestmark = pytest.mark.integration


@pytest.fixture
def pg() -> Iterator:  # noqa: ANN401
    with migrated_database() as url:
        engine = build_engine(url)
        try:
            yield build_session_factory(engine)
        finally:
            engine.dispose()


def open_(sessions, work) -> list[int]:  # noqa: ANN001
    with write_transaction(sessions) as s:
        return open_tasks(s, work, threshold=0.8, required_answers=1)


def test_concurrent_validators_never_share_a_task(pg) -> None:  # noqa: ANN001
    sessions = pg
    for n in range(4):
        doc = completed_document(sessions, chunks=15, sha=f"{n}" * 64)
        work = review(doc, list(range(15)))
        assert len(open_(sessions, work)) == 15
        assert open_(sessions, work) == []  # redelivered: nothing new
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ValidationTask)) == 60
    assignment = Assignment(sessions, 3600)
    answers = Answers(sessions, assignment, lambda m: None, MemoryIndexVersions())
    names = ["anna", "bert", "cleo"]
    for name in names:
        Validators(sessions, 3600).add(name, [], 2)
    taken: list[tuple[str, int]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []
    over_capacity: list[int] = []

    def work(name: str) -> None:  # several threads per validator: their requests race too
        try:
            while (task := assignment.next_task(name)) is not None:
                with sessions() as s:
                    held = s.scalar(select(func.count()).where(
                        ValidationTask.status == TaskStatus.ASSIGNED,
                        ValidationTask.assigned_to == task_owner(s, name)))
                if held > 2:
                    over_capacity.append(held)
                try:
                    answers.answer(task["task_id"], name, Verdict.APPROVE)
                except Exception as exc:  # noqa: BLE001 - a twin thread of the same validator answered it
                    if "not held" not in str(exc):
                        raise
                    continue
                with lock:
                    taken.append((name, task["task_id"]))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert not over_capacity
    ids = [tid for _, tid in taken]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 60  # each answered once, all answered
    with sessions() as s:
        answered_by = s.execute(text(
            "SELECT task_id, COUNT(DISTINCT validator_id) FROM validation_answers GROUP BY task_id"
        )).all()
        assert len(answered_by) == 60 and all(n == 1 for _, n in answered_by)
        assert audit.verify(s).ok


def task_owner(s, name: str) -> int:  # noqa: ANN001
    return s.execute(text("SELECT id FROM validators WHERE name = :n"), {"n": name}).scalar_one()


def test_batch_fails_whole_when_a_middle_task_is_locked(pg) -> None:  # noqa: ANN001
    sessions = pg
    doc = completed_document(sessions, chunks=5)
    ids = open_(sessions, review(doc, [0, 1, 2, 3, 4]))
    answers = Answers(sessions, Assignment(sessions, 3600), lambda m: None, MemoryIndexVersions())
    with sessions() as s:
        entries_before = audit.verify(s).entries
    # Another transaction (a validator answering task 3 right now) holds its row lock.
    with transaction(sessions) as other:
        other.execute(select(ValidationTask).where(ValidationTask.id == ids[2]).with_for_update())
        with pytest.raises(Exception) as err:
            answers.batch(Verdict.APPROVE, by="lead", document_id=doc)
        assert "lock" in str(err.value).lower()
    with sessions() as s:
        statuses = set(s.scalars(select(ValidationTask.status).where(ValidationTask.id.in_(ids))))
        assert statuses == {TaskStatus.OPEN}
        assert audit.verify(s).entries == entries_before  # the first two tasks' entries rolled back
    out = answers.batch(Verdict.APPROVE, by="lead", document_id=doc)
    assert out["decided"] == 5
    with sessions() as s:
        assert audit.verify(s).ok
        new = s.execute(text("SELECT entity_type, action FROM audit_log ORDER BY seq OFFSET :n"),
                        {"n": entries_before}).all()
    # One decision per task; each task's chunk confirmed, the document's figure as it moves
    # (every approval raises it here) and the document validated once at the end.
    assert sorted(new) == sorted([("task", "decide:approve")] * 5 + [("chunk", "confirm:approve")] * 5
                                 + [("document", "confidence")] * 5 + [("document", "validated")])
