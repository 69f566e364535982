"""The watchdog's follow-up check on the embedded runtime (SQLite, in-process broker, no worker
consuming): completed documents without classification (their tenant has a taxonomy) get
``ClassifyDocument`` again, at most ``DOCUMIND_WATCHDOG_FOLLOWUP_BATCH`` per run, oldest first;
nothing more while one waits in the broker; documents that have it, of tenants without a
taxonomy, or completed within the grace period are left alone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import update

from documind.contracts import Queues, RunWatchdog
from documind.db.engine import transaction
from documind.db.models import Document, DocumentStatus, utcnow
from documind.locks import FileJobLock
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload
from documind.taxonomy import add_label
from documind_maintenance.watchdog import Watchdog


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(
        load_settings(data_dir=tmp_path, worker_threads=1, watchdog_followup_batch=2), configure_logs=False
    )
    yield rt
    rt.close()


def completed(rt: Runtime, tenant: str, n: int, *, minutes_ago: float, metadata: dict | None = None) -> str:
    reg = rt.status.register(Upload(tenant, f"{n}.txt", f"{n:064d}", 1, f"{tenant}/{n}"))
    with transaction(rt.sessions) as s:
        s.execute(update(Document).where(Document.id == reg.document_id).values(
            status=DocumentStatus.COMPLETED, completed_at=utcnow() - timedelta(minutes=minutes_ago),
            metadata_=metadata or {},
        ))
    return reg.document_id


def classify_messages(rt: Runtime) -> list[str]:
    """Document ids of the ClassifyDocument messages waiting in the embed queue."""
    from dramatiq import Message

    messages = [Message.decode(raw) for raw in list(rt.broker.queues[Queues.EMBED].queue)]
    return [m.args[0]["document_id"] for m in messages if m.actor_name == "embed.classify_document"]


def run(rt: Runtime) -> dict:
    return Watchdog(rt, FileJobLock(rt.settings.data_dir / "locks")).run(RunWatchdog(stale_after_s=60))["followups"]


def test_lost_classifications_are_resent_bounded_and_once(runtime: Runtime) -> None:
    rt = runtime
    add_label(rt.sessions, "acme", "sport", "Sport: football players, clubs and matches.")
    lost = [completed(rt, "acme", i, minutes_ago=50 - i) for i in range(5)]  # oldest first
    done = completed(rt, "acme", 10, minutes_ago=60, metadata={"classification": {"method": "zero-shot"}})
    fresh = completed(rt, "acme", 11, minutes_ago=0)  # within the grace period: may still come
    other = completed(rt, "plain", 12, minutes_ago=60)  # its tenant has no taxonomy

    first = run(rt)
    assert first == {"classify": lost[:2], "enrichment": []}  # the batch bound, oldest first
    assert sorted(classify_messages(rt)) == sorted(lost[:2])
    # Waiting in the broker is not lost: a second run adds no duplicate of them, and the
    # batch is still taken by those two (so no run ever sends more than the bound).
    assert run(rt) == {"classify": [], "enrichment": []}
    assert sorted(classify_messages(rt)) == sorted(lost[:2])
    assert done not in classify_messages(rt) and fresh not in classify_messages(rt)
    assert other not in classify_messages(rt)

    # The first two get classified: the next run takes the next two.
    rt.broker.flush_all()
    for doc_id in lost[:2]:
        with transaction(rt.sessions) as s:
            s.execute(update(Document).where(Document.id == doc_id).values(metadata_={"classification": {}}))
    assert run(rt)["classify"] == lost[2:4]
    rt.broker.flush_all()
    for doc_id in lost[2:4]:
        with transaction(rt.sessions) as s:
            s.execute(update(Document).where(Document.id == doc_id).values(metadata_={"classification": {}}))
    assert run(rt)["classify"] == lost[4:]
    assert rt.metrics.watchdog_documents.labels("followup_resent")._value.get() == 5
