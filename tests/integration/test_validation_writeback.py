"""Decisions written back, through the real stacks (embedded and distributed): an approval
shows in ``documind show`` as confirmed with confidence 1.0 and the document's figure
recomputed; a correction's label is found by ``search --label``; finished tasks past
retention go at ``documind cleanup`` (corrections stay); validated labels train the
classifier (``labels train --validated``) and, once enough exist, retrain it automatically,
once; a correction whose messages were lost after its commit (the process died) is re-sent
by the watchdog and becomes searchable.

The test opens and holds tasks in-process on the stack's database (what the validate actor
and ``validate next`` do) so that the AI stage's own low-confidence tasks on the same
documents cannot reorder who gets what; answers go through the CLI, except where a test
needs the commit without the send (the simulated crash)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import select

from tests.integration.harness import wait_for

pytestmark = pytest.mark.integration


@contextmanager
def database(stack) -> Iterator:  # noqa: ANN001
    from documind.db.engine import build_engine, build_session_factory

    engine = build_engine(stack.env["DOCUMIND_DATABASE_URL"])
    try:
        yield build_session_factory(engine)
    finally:
        engine.dispose()


def held_task(sessions, doc_id: str, validator: str) -> int:  # noqa: ANN001
    """Open the task of chunk 0 (or find the one the AI stage opened) and hold it for ``validator``."""
    from documind.contracts import LowConfidenceChunk, ReviewChunks
    from documind.db.engine import transaction, write_transaction
    from documind.db.models import Document, TaskStatus, ValidationTask, Validator, utcnow
    from documind.validation.tasks import open_tasks

    with write_transaction(sessions) as s:
        doc = s.get(Document, doc_id)
        work = ReviewChunks(document_id=doc_id, tenant=doc.tenant, generation=doc.generation, document_confidence=0.5,
                            chunks=[LowConfidenceChunk(idx=0, confidence=0.2, reasons=["test"])])
        open_tasks(s, work, threshold=0.8, required_answers=1)
    with transaction(sessions) as s:
        task = s.scalar(select(ValidationTask).where(ValidationTask.document_id == doc_id,
                                                     ValidationTask.chunk_idx == 0).with_for_update())
        v = s.scalar(select(Validator).where(Validator.name == validator))
        assert task.status in (TaskStatus.OPEN, TaskStatus.ASSIGNED)
        task.status, task.assigned_to, task.assigned_at = TaskStatus.ASSIGNED, v.id, utcnow()
        return task.id


def texts(stack, query: str, tenant: str, *extra: str) -> list[str]:  # noqa: ANN001
    out = stack.cli("search", query, "--tenant", tenant, "--top-k", "5", *extra, "--json").json()
    return [h["text"] for h in out["hits"]]


def classified(stack, doc_id: str, tenant: str) -> dict:  # noqa: ANN001
    return wait_for(lambda: stack.cli("status", doc_id, "--tenant", tenant, "--json").json(),
                    lambda st: "classification" in st["metadata"])


LEDGER = "The invoice for March lists the amounts due, the payment terms and the bank account for the transfer."
SHIP = "The cargo ship left the harbour at dawn with containers of grain bound for the northern ports."


def test_approve_confirms_correct_relabels_and_retention(stack, tmp_path: Path) -> None:  # noqa: ANN001
    tenant, name = f"wb-{stack.mode}", f"wb-ann-{stack.mode}"
    stack.cli("labels", "add", "finance", "--description", "Invoices, payments and money", "--tenant", tenant)
    stack.cli("labels", "add", "shipping", "--description", "Ships, cargo and harbours", "--tenant", tenant)
    (tmp_path / "ledger.txt").write_text(LEDGER)
    (tmp_path / "ship.txt").write_text(SHIP)
    docs = {Path(d["source_name"]).name: d for d in stack.ingest(tmp_path, extra=("--tenant", tenant))}
    a, b = docs["ledger.txt"]["id"], docs["ship.txt"]["id"]
    for doc_id in (a, b):
        classified(stack, doc_id, tenant)
    stack.cli("validators", "add", name, "--capacity", "20")
    assert texts(stack, "cargo ship harbour", tenant, "--label", "maritime-law") == []
    before = stack.cli("show", a, "--chunks", "--tenant", tenant, "--json").json()
    machine = before["chunks"][0]["confidence"]
    assert machine is not None and before["chunks"][0]["validation"] is None
    with database(stack) as sessions:
        ta, tb = held_task(sessions, a, name), held_task(sessions, b, name)

    stack.cli("validate", "approve", str(ta), "--validator", name)
    shown = stack.cli("show", a, "--chunks", "--tenant", tenant, "--json").json()
    chunk = shown["chunks"][0]
    assert chunk["validation"]["verdict"] == "approve" and chunk["validation"]["confirmed_by"] == name
    assert chunk["validation"]["labels_confirmed"] and chunk["validation"]["entities_confirmed"]
    assert chunk["validation"]["labels"] == [chunk["classification"]["name"]]
    assert chunk["confidence"] == 1.0 and chunk["machine_confidence"] == machine
    assert shown["confidence"] == 1.0  # one chunk, confirmed: the document's figure recomputed
    assert shown["machine_confidence"] is not None

    stack.cli("validate", "correct", str(tb), "--validator", name, "--labels", "maritime-law")
    shown = stack.cli("show", b, "--chunks", "--tenant", tenant, "--json").json()
    assert "maritime-law" in shown["labels"]
    assert shown["chunks"][0]["classification"]["name"] == "maritime-law"
    hits = wait_for(lambda: texts(stack, "cargo ship harbour", tenant, "--label", "maritime-law"), bool)
    assert hits == [SHIP]

    # Retention: the approval decided 200 days ago goes, the correction (pairs) stays.
    # The chain is compared before and after, not required whole: the stack is shared, and
    # test_validation.py tampers with it on purpose.
    chain_before = stack.cli("audit", "verify", "--json", check=False).json()
    with database(stack) as sessions:
        from documind.db.engine import transaction
        from documind.db.models import ValidationTask, utcnow

        with transaction(sessions) as s:
            for task_id in (ta, tb):
                s.get(ValidationTask, task_id).answered_at = utcnow() - timedelta(days=200)
    report = stack.cli("cleanup", "--json").json()
    assert report["rows"]["validation_tasks"] == 1
    assert stack.sql(f"SELECT id FROM validation_tasks WHERE id IN ({ta}, {tb})") == [(tb,)]
    assert stack.sql(f"SELECT COUNT(*) FROM chunk_validations WHERE document_id = '{a}'") == [(1,)]
    chain_after = stack.cli("audit", "verify", "--json", check=False).json()
    assert chain_after["problems"] == chain_before["problems"]  # cleanup never touches the audit chain


OLD = "The lighthouse keeper logged a storm with waves over the quay and a broken lantern on the north tower."
NEW = "The lighthouse keeper logged calm seas, a repaired lantern and a supply boat arriving at the quay."


def test_outbox_resends_a_correction_lost_after_commit(stack, tmp_path: Path) -> None:  # noqa: ANN001
    from documind.db.models import Verdict
    from documind.index_versions import MemoryIndexVersions
    from documind.validation.answers import Answers
    from documind.validation.assignment import Assignment

    tenant, name = f"ob-{stack.mode}", f"ob-ann-{stack.mode}"
    path = tmp_path / "log.txt"
    path.write_text(OLD)
    (doc,) = stack.ingest(path, extra=("--tenant", tenant))
    stack.cli("validators", "add", name, "--capacity", "20")
    lost: list = []
    with database(stack) as sessions:
        task_id = held_task(sessions, doc["id"], name)
        # The crash: the correction commits, its revision messages never leave the process.
        Answers(sessions, Assignment(sessions, 3600), lost.append, MemoryIndexVersions()).answer(
            task_id, name, Verdict.CORRECT, text=NEW)
    assert {type(m).__name__ for m in lost} == {"EmbedChunks", "IndexChunks"}
    assert NEW not in texts(stack, "calm seas supply boat", tenant)
    pending = f"SELECT COUNT(*) FROM chunks WHERE document_id = '{doc['id']}' AND revision_pending_at IS NOT NULL"
    assert stack.sql(pending) == [(1,)]
    assert stack.cli("recover", "--json").json()["revisions_resent"] == []  # within the grace period

    with database(stack) as sessions:
        from sqlalchemy import update

        from documind.db.engine import transaction
        from documind.db.models import Chunk, utcnow

        with transaction(sessions) as s:
            s.execute(update(Chunk).where(Chunk.document_id == doc["id"])
                      .values(revision_pending_at=utcnow() - timedelta(hours=1)))
    out = stack.cli("recover", "--json").json()
    assert len(out["revisions_resent"]) == 1
    assert wait_for(lambda: texts(stack, "calm seas supply boat", tenant), lambda t: NEW in t)[0] == NEW
    assert OLD not in texts(stack, "storm waves broken lantern", tenant)
    assert wait_for(lambda: stack.sql(pending), lambda r: r == [(0,)]) == [(0,)]
    assert stack.cli("recover", "--json").json()["revisions_resent"] == []


INVOICES = [
    "Invoice 1041: consulting services, amount due 2,400 euros, payable within thirty days to our bank account.",
    "Please find attached the invoice for the office supplies; the total of 318 dollars is due at the end of May.",
    "Reminder: invoice 77 is overdue; kindly transfer the outstanding balance of 950 pounds this week.",
    "The invoice lists twelve hours of repair work at 60 euros per hour plus VAT, payment by bank transfer.",
    "Our accounts team issued a credit note against invoice 5530 after the duplicate payment was refunded.",
]
SHIPS = [
    "The container ship docked at the harbour after a rough crossing, and the cranes began unloading cargo.",
    "A fishing trawler and two ferries were anchored in the bay while the tugboat guided the tanker in.",
]


REDELIVER = """
import json, sys
from documind.cli.common import call_service, open_runtime
from documind.contracts import TrainClassifier
with open_runtime(with_workers=True) as rt:
    print(json.dumps(call_service(rt, TrainClassifier(tenant=sys.argv[1], validated_examples=int(sys.argv[2])), 300)))
"""


def test_validated_labels_train_the_classifier_and_retrain_once(stack, tmp_path: Path) -> None:  # noqa: ANN001
    from documind.db.models import Verdict
    from documind.index_versions import MemoryIndexVersions
    from documind.validation.answers import Answers
    from documind.validation.assignment import Assignment
    tenant, name = f"tr-{stack.mode}", f"tr-ann-{stack.mode}"
    stack.cli("labels", "add", "invoice", "--description", "Bills and invoices: amounts due and payments",
              "--tenant", tenant)
    stack.cli("labels", "add", "shipping", "--description", "Ships, boats, harbours and cargo", "--tenant", tenant)
    for i, text in enumerate(INVOICES + SHIPS):
        (tmp_path / f"d{i}.txt").write_text(text)
    docs = sorted(stack.ingest(tmp_path, extra=("--tenant", tenant)), key=lambda d: d["source_name"])
    assert all(d["status"] == "completed" for d in docs)
    for d in docs:
        assert classified(stack, d["id"], tenant)["metadata"]["classification"]["method"] == "zero-shot"
    stack.cli("validators", "add", name, "--capacity", "20")
    labels = ["invoice"] * len(INVOICES) + ["shipping"] * len(SHIPS)
    with database(stack) as sessions:
        tasks = [held_task(sessions, d["id"], name) for d in docs]
        answers = Answers(sessions, Assignment(sessions, 3600), lambda m: None, MemoryIndexVersions())
        for task_id, label in zip(tasks[:-1], labels[:-1]):
            answers.answer(task_id, name, Verdict.CORRECT, labels=[label])
    assert stack.sql(f"SELECT COUNT(*) FROM label_classifiers WHERE tenant = '{tenant}'") == [(0,)]

    # The last decision, through the CLI with the threshold at 5: the trigger goes to the
    # embed service, which trains (5 invoices learnable at DOCUMIND_CLASSIFY_MIN_EXAMPLES=5).
    cli = dataclasses.replace(stack, env={**stack.env, "DOCUMIND_CLASSIFIER_MIN_VALIDATED": "5"})
    cli.cli("validate", "correct", str(tasks[-1]), "--validator", name, "--labels", labels[-1])
    mark = f"SELECT validated_examples FROM classifier_training_marks WHERE tenant = '{tenant}'"
    assert wait_for(lambda: stack.sql(mark), lambda r: r == [(7,)]) == [(7,)]
    trained = stack.sql(f"SELECT trained_at, examples FROM label_classifiers WHERE tenant = '{tenant}'")
    assert len(trained) == 1 and trained[0][1] == 7
    # The trigger delivered again, through the broker to the embed service: no second training.
    again = subprocess.run([sys.executable, "-c", REDELIVER, tenant, "7"], env=stack.env, cwd=stack.root,
                           check=True, timeout=600, capture_output=True, text=True)
    assert json.loads(again.stdout.strip().splitlines()[-1])["trained"] is False, again.stdout
    assert stack.sql(f"SELECT trained_at FROM label_classifiers WHERE tenant = '{tenant}'") == [(trained[0][0],)]

    # By hand, every label learnt (a lower minimum), then the documents classified again.
    out = stack.cli("labels", "train", "--validated", "--min-examples", "2", "--tenant", tenant, "--json").json()
    assert out["trained"] and out["validated_examples"] == 7 and set(out["labels"]) == {"invoice", "shipping"}
    stack.cli("labels", "classify", "--all", "--tenant", tenant)
    for d, label in zip(docs, labels):
        meta = wait_for(lambda d=d: stack.cli("status", d["id"], "--tenant", tenant, "--json").json()["metadata"],
                        lambda m: m["classification"]["method"] == "supervised")
        assert meta["classification"]["method"] == "supervised"
        assert label in meta["labels"]
