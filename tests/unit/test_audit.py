"""documind.audit on a migrated SQLite database: StatusStore transitions write the chain in
their own transaction; verify detects a changed, a deleted and a newest-deleted row."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, select, text, update

from documind import audit
from documind.db.engine import SessionFactory, transaction
from documind.db.models import AuditEntry, StageName
from documind.status import StatusStore, Upload


def upload(sha: str) -> Upload:
    return Upload(tenant="acme", source_name="a.pdf", sha256=sha, size_bytes=1, storage_key=f"acme/{sha}")


@pytest.fixture
def store(sessions: SessionFactory) -> StatusStore:
    return StatusStore(sessions)


def actions(sessions: SessionFactory, doc_id: str) -> list[str]:
    with sessions() as s:
        return [e.action for e in audit.history(s, [doc_id])]


def test_status_changes_are_audited_and_chain_verifies(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload("a" * 64))
    store.begin_stage(reg.document_id, reg.generation, StageName.VALIDATE)
    store.begin_stage(reg.document_id, reg.generation, StageName.VALIDATE)  # no change: no entry
    store.hand_off(reg.document_id, reg.generation, StageName.EMBED, 3)
    store.complete(reg.document_id, reg.generation)
    store.mark_deleted(reg.document_id)
    assert actions(sessions, reg.document_id) == ["register", "stage:validate", "hand_off:embed", "complete", "delete"]
    with sessions() as s:
        entries = audit.history(s, [reg.document_id])
        assert entries[-1].before["status"] == "completed" and entries[-1].after["status"] == "deleted"
        assert audit.verify(s).ok


def test_rolled_back_change_leaves_no_entry(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload("b" * 64))
    with pytest.raises(RuntimeError):
        with store.step(reg.document_id, reg.generation) as step:
            step.begin(StageName.EXTRACT)
            raise RuntimeError("boom")
    assert actions(sessions, reg.document_id) == ["register"]
    with sessions() as s:
        assert audit.verify(s).ok


def _chain(store: StatusStore) -> None:
    for i in range(3):
        reg = store.register(upload(f"{i:064d}"))
        store.fail(reg.document_id, "bad file")


def test_changed_row_is_detected(store: StatusStore, sessions: SessionFactory) -> None:
    _chain(store)
    with transaction(sessions) as s:
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(reason="nothing happened"))
    with sessions() as s:
        result = audit.verify(s)
    assert not result.ok and [p.seq for p in result.problems] == [3]


def test_deleted_row_is_detected(store: StatusStore, sessions: SessionFactory) -> None:
    _chain(store)
    with transaction(sessions) as s:
        s.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    with sessions() as s:
        result = audit.verify(s)
    assert not result.ok and "missing" in result.problems[0].problem


def test_deleted_newest_row_is_detected(store: StatusStore, sessions: SessionFactory) -> None:
    _chain(store)
    with transaction(sessions) as s:
        last = s.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()).limit(1))
        s.execute(delete(AuditEntry).where(AuditEntry.seq == last))
    with sessions() as s:
        result = audit.verify(s)
    assert not result.ok and "head" in result.problems[0].problem


def test_rehashed_row_is_still_detected_by_its_successor(store: StatusStore, sessions: SessionFactory) -> None:
    """A forger who recomputes the changed row's own hash breaks the next row's prev_hash."""
    _chain(store)
    with transaction(sessions) as s:
        row = s.get(AuditEntry, 2)
        row.reason = "forged"
        row.hash = audit.entry_hash(
            seq=row.seq, created_at=row.created_at, actor=row.actor, entity_type=row.entity_type,
            entity_id=row.entity_id, action=row.action, before=row.before, after=row.after,
            reason=row.reason, prev_hash=row.prev_hash,
        )
    with sessions() as s:
        result = audit.verify(s)
    assert [p.seq for p in result.problems] == [3]


def test_concurrent_writers_never_fork_the_chain(store: StatusStore, sessions: SessionFactory) -> None:
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(10):
                reg = store.register(upload(f"{t:032d}{i:032d}"))
                store.fail(reg.document_id, "x")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    with sessions() as s:
        result = audit.verify(s)
        assert result.ok and result.entries == 80
        assert s.scalar(text("SELECT COUNT(DISTINCT prev_hash) FROM audit_log")) == 80
