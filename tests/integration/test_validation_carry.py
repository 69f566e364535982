"""People's work survives re-processing and model switches, through the real stacks (embedded
and distributed):

- a re-processed document keeps the decision on a chunk whose text came back the same
  (verdict, labels, who and when, the validated confidence folded into the new chunk's
  enrichment, no new task for it), audited; the decision on a chunk whose text changed (a
  text correction: re-processing rebuilds the source's text) is kept detached as history,
  not applied; both still train the classifier (text and labels outlive the chunks);
- a supervised classifier left in another embedding model's space (its ``RetrainClassifier``
  lost) is rebuilt after the watchdog re-sends it, once per period; a redelivered message
  trains nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.integration.harness import wait_for
from tests.integration.test_validation_writeback import database

pytestmark = pytest.mark.integration

PARAGRAPHS = [
    "The invoice for March lists the consulting hours, the amounts due for each week and the payment terms. "
    "Our accounts team expects the transfer to the bank account named below within thirty days of the date "
    "on this invoice, and a reminder follows for any balance still outstanding after that. Please quote the "
    "invoice number with the payment so that the accounts team can match it to the right customer account. "
    "Late payments carry interest at the rate stated in the contract, counted from the day after the due date. "
    "Questions about single items go to the billing office, which answers within two working days.",
    "The cargo ship left the harbour at dawn with containers of grain bound for the northern ports. The crew "
    "checked the lashings twice before the tugboats pulled away, because the forecast promised a rough "
    "crossing with strong winds from the west. The captain logged the departure, the draught and the weather "
    "in the ship's book, and the pilot left the bridge at the outer buoy. Two ferries waited at anchor in the "
    "bay while the tanker behind them was guided to its berth by the harbour master's launch and crew.",
]
CORRECTED = "The cargo ship left the harbour at noon with timber for the southern ports (corrected by a person)."


def hold(sessions, doc_id: str, idx: int, validator: str) -> int:  # noqa: ANN001
    """Open (or find) the task of chunk ``idx`` and hold it for ``validator``."""
    from documind.contracts import LowConfidenceChunk, ReviewChunks
    from documind.db.engine import transaction, write_transaction
    from documind.db.models import Document, TaskStatus, ValidationTask, Validator, utcnow
    from documind.validation.tasks import open_tasks

    with write_transaction(sessions) as s:
        doc = s.get(Document, doc_id)
        open_tasks(s, ReviewChunks(document_id=doc_id, tenant=doc.tenant, generation=doc.generation,
                                   document_confidence=0.5,
                                   chunks=[LowConfidenceChunk(idx=idx, confidence=0.2, reasons=["test"])]),
                   threshold=0.8, required_answers=1)
    with transaction(sessions) as s:
        task = s.scalar(select(ValidationTask).where(
            ValidationTask.document_id == doc_id, ValidationTask.chunk_idx == idx,
            ValidationTask.status.in_((TaskStatus.OPEN, TaskStatus.ASSIGNED))).with_for_update())
        v = s.scalar(select(Validator).where(Validator.name == validator))
        task.status, task.assigned_to, task.assigned_at = TaskStatus.ASSIGNED, v.id, utcnow()
        return task.id


def test_reprocessing_keeps_confirmations_and_training_examples(stack, tmp_path: Path) -> None:  # noqa: ANN001
    from documind.validation.training import validated_examples

    tenant, name = f"carry-{stack.mode}", f"carry-ann-{stack.mode}"
    stack.cli("labels", "add", "finance", "--description", "Invoices, payments and money", "--tenant", tenant)
    stack.cli("labels", "add", "shipping", "--description", "Ships, cargo and harbours", "--tenant", tenant)
    path = tmp_path / "mixed.txt"
    path.write_text("\n\n".join(PARAGRAPHS))
    (doc,) = stack.ingest(path, extra=("--tenant", tenant))
    doc_id = doc["id"]
    chunks = stack.sql(f"SELECT idx, text FROM chunks WHERE document_id = '{doc_id}' ORDER BY idx")
    assert len(chunks) >= 2, chunks
    first_text = chunks[0][1]
    stack.cli("validators", "add", name, "--capacity", "20")
    with database(stack) as sessions:
        t0, t1 = hold(sessions, doc_id, 0, name), hold(sessions, doc_id, 1, name)
    stack.cli("validate", "approve", str(t0), "--validator", name, "--labels", "finance")
    stack.cli("validate", "correct", str(t1), "--validator", name, "--text", CORRECTED, "--labels", "shipping")
    decided = stack.sql(f"SELECT idx, verdict, confirmed_at FROM chunk_validations WHERE document_id = '{doc_id}' "
                        "ORDER BY idx")
    assert [(i, v) for i, v, _ in decided] == [(0, "approve"), (1, "correct")]
    with database(stack) as sessions:
        before = sorted(validated_examples(sessions, tenant))
    assert before == sorted([(first_text, ["finance"]), (CORRECTED, ["shipping"])])

    (again,) = stack.ingest(path, extra=("--tenant", tenant, "--reprocess"))
    assert again["id"] == doc_id and again["status"] == "completed", again
    [(gen,)] = stack.sql(f"SELECT generation FROM documents WHERE id = '{doc_id}'")
    assert gen == 2

    # The unchanged chunk keeps its decision: verdict, labels, who and when, at generation 2.
    rows = stack.sql(f"SELECT idx, generation, verdict, labels, confirmed_by, confirmed_at, confidence "
                     f"FROM chunk_validations WHERE document_id = '{doc_id}'")
    assert len(rows) == 1, rows
    idx, generation, verdict, labels, by, at, confidence = rows[0]
    labels = json.loads(labels) if isinstance(labels, str) else labels
    assert (idx, generation, verdict, labels, by, confidence) == (0, 2, "approve", ["finance"], name, 1.0)
    assert str(at) == str(decided[0][2])
    shown = wait_for(lambda: stack.cli("show", doc_id, "--chunks", "--tenant", tenant, "--json").json(),
                     lambda d: d["chunks"] and d["chunks"][0]["machine_confidence"] is not None)
    chunk = shown["chunks"][0]
    assert chunk["validation"]["verdict"] == "approve" and chunk["validation"]["confirmed_by"] == name
    assert chunk["confidence"] == 1.0  # the validated figure folded into the new chunk's enrichment
    assert stack.sql(f"SELECT COUNT(*) FROM validation_tasks WHERE document_id = '{doc_id}' AND generation = 2 "
                     f"AND chunk_idx = 0") == [(0,)]  # confirmed: not asked again

    # Both decisions are kept detached; only the one whose text came back is carried.
    detached = stack.sql(f"SELECT idx, text, carried_to, carried_generation FROM detached_validations "
                         f"WHERE document_id = '{doc_id}' ORDER BY idx")
    assert [(i, t) for i, t, _, _ in detached] == [(0, first_text), (1, CORRECTED)]
    assert detached[0][2] is not None and detached[0][3] == 2
    assert detached[1][2:] == (None, None)  # the corrected text is not in the new chunks: history only
    carried = stack.sql(f"SELECT entity_id FROM audit_log WHERE action = 'validation_carried' "
                        f"AND entity_id = '{detached[0][2]}'")
    assert len(carried) == 1
    assert stack.sql(f"SELECT COUNT(*) FROM audit_log WHERE action = 'validations_detached' "
                     f"AND entity_id = '{doc_id}'") == [(1,)]

    # The training examples survived the chunks: the same (text, labels) pairs as before.
    with database(stack) as sessions:
        assert sorted(validated_examples(sessions, tenant)) == before


MINI = {
    "finance": [
        "Invoice 1041: consulting services, amount due 2,400 euros, payable within thirty days.",
        "Please find attached the invoice for office supplies; the total of 318 dollars is due in May.",
        "Reminder: invoice 77 is overdue; kindly transfer the outstanding balance this week.",
    ],
    "shipping": [
        "The container ship docked at the harbour and the cranes began unloading cargo.",
        "A fishing trawler and two ferries were anchored in the bay while the tugboat guided the tanker.",
        "The freighter left port at dawn with grain bound for the northern harbours.",
    ],
}

REDELIVER = """
import json, sys
from documind.cli.common import call_service, open_runtime
from documind.contracts import RetrainClassifier
with open_runtime(with_workers=True) as rt:
    print(json.dumps(call_service(rt, RetrainClassifier(tenant=sys.argv[1], embedding_model=sys.argv[2]), 300)))
"""


def test_watchdog_resends_a_lost_classifier_retrain_once(stack, tmp_path: Path) -> None:  # noqa: ANN001
    tenant = f"rt-{stack.mode}"
    for label in MINI:
        stack.cli("labels", "add", label, "--description", f"{label} texts", "--tenant", tenant)
    examples = tmp_path / "train.jsonl"
    examples.write_text("".join(json.dumps({"text": t, "labels": [n]}) + "\n" for n, ts in MINI.items() for t in ts))
    trained = stack.cli("labels", "train", str(examples), "--min-examples", "3", "--tenant", tenant, "--json").json()
    active = trained["embedding_model"]

    def classifier() -> dict:
        return stack.cli("labels", "list", "--tenant", tenant, "--json").json()["classifier"]

    assert classifier()["in_use"]
    # A model switch whose RetrainClassifier was lost: the classifier is of a model no longer
    # active, and nothing asks for it again.
    stack.execute(f"UPDATE label_classifiers SET embedding_model = 'gone-model' WHERE tenant = '{tenant}'")
    assert not classifier()["in_use"]
    stack.execute("UPDATE model_versions SET activated_at = '2000-01-01 00:00:00' WHERE activated_at IS NOT NULL")
    stack.execute("UPDATE model_versions SET retired_at = '2000-01-01 00:00:00' WHERE retired_at IS NOT NULL")

    out = stack.cli("recover", "--json").json()
    assert tenant in out["classifier_retrains_resent"], out
    rebuilt = wait_for(classifier, lambda c: c["embedding_model"] == active)
    assert rebuilt["in_use"] and rebuilt["examples"] == 6
    [(trained_at,)] = stack.sql(f"SELECT trained_at FROM label_classifiers WHERE tenant = '{tenant}'")
    assert tenant not in stack.cli("recover", "--json").json()["classifier_retrains_resent"]  # current now

    # Redelivered through the broker to the embed service: nothing trained again.
    again = subprocess.run([sys.executable, "-c", REDELIVER, tenant, active], env=stack.env, cwd=stack.root,
                           check=True, timeout=600, capture_output=True, text=True)
    assert json.loads(again.stdout.strip().splitlines()[-1])["result"] == "current", again.stdout
    assert stack.sql(f"SELECT trained_at FROM label_classifiers WHERE tenant = '{tenant}'") == [(trained_at,)]

    # Lost again, but re-sent within DOCUMIND_CLASSIFIER_RETRAIN_RESEND_AFTER_S: not sent again yet.
    stack.execute(f"UPDATE label_classifiers SET embedding_model = 'gone-model' WHERE tenant = '{tenant}'")
    assert tenant not in stack.cli("recover", "--json").json()["classifier_retrains_resent"]
    stack.execute(f"UPDATE label_classifiers SET retrain_sent_at = '2000-01-01 00:00:00' WHERE tenant = '{tenant}'")
    assert tenant in stack.cli("recover", "--json").json()["classifier_retrains_resent"]
    wait_for(classifier, lambda c: c["embedding_model"] == active)
