"""documind.status.StatusStore on a migrated SQLite database: registration, the fence, final
states, stale stages and the heartbeat."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from documind.db.engine import SessionFactory, transaction
from documind.db.models import Chunk, DocumentStatus, Stage, StageName, StageState, utcnow
from documind.errors import Fenced
from documind.status import StatusStore, Upload

SHA_A = "a" * 64
SHA_B = "b" * 64


def upload(tenant: str = "acme", sha: str = SHA_A, name: str = "report.pdf") -> Upload:
    return Upload(tenant=tenant, source_name=name, sha256=sha, size_bytes=1234, storage_key=f"{tenant}/{sha}")


@pytest.fixture
def store(sessions: SessionFactory) -> StatusStore:
    return StatusStore(sessions)


def stage_row(sessions: SessionFactory, document_id: str, name: StageName) -> Stage | None:
    with sessions() as s:
        return s.scalar(select(Stage).where(Stage.document_id == document_id, Stage.name == name))


def set_heartbeat(sessions: SessionFactory, document_id: str, name: StageName, when) -> None:  # noqa: ANN001
    with transaction(sessions) as s:
        s.execute(
            update(Stage).where(Stage.document_id == document_id, Stage.name == name).values(heartbeat_at=when)
        )


# ---- register ----------------------------------------------------------------------------


def test_register_creates_a_received_document(store: StatusStore) -> None:
    reg = store.register(upload())
    assert reg.created is True
    assert reg.needs_processing is True
    assert reg.generation == 1
    doc = store.get(reg.document_id)
    assert doc is not None
    assert doc.status is DocumentStatus.RECEIVED
    assert (doc.tenant, doc.sha256, doc.source_name) == ("acme", SHA_A, "report.pdf")


def test_register_same_bytes_twice_is_idempotent(store: StatusStore) -> None:
    first = store.register(upload())
    second = store.register(upload(name="copy-of-report.pdf"))
    assert second.document_id == first.document_id
    assert second.created is False
    assert second.needs_processing is False
    assert second.generation == first.generation == 1
    assert len(store.list()) == 1


def test_register_other_tenant_gets_a_new_document(store: StatusStore) -> None:
    a = store.register(upload(tenant="acme"))
    b = store.register(upload(tenant="globex"))
    assert b.document_id != a.document_id
    assert b.created is True and b.needs_processing is True
    assert {d.tenant for d in store.list()} == {"acme", "globex"}
    assert [d.id for d in store.list(tenant="globex")] == [b.document_id]


def test_register_other_bytes_gets_a_new_document(store: StatusStore) -> None:
    a = store.register(upload(sha=SHA_A))
    b = store.register(upload(sha=SHA_B))
    assert a.document_id != b.document_id


def test_reprocess_bumps_generation(store: StatusStore) -> None:
    first = store.register(upload())
    store.begin_stage(first.document_id, 1, StageName.VALIDATE)
    again = store.register(upload(), reprocess=True)
    assert again.document_id == first.document_id
    assert again.created is False
    assert again.needs_processing is True
    assert again.generation == 2
    doc = store.get(first.document_id)
    assert doc is not None
    assert doc.generation == 2
    assert doc.status is DocumentStatus.RECEIVED
    assert doc.stages == []
    # Work of the old generation is fenced off.
    with pytest.raises(Fenced):
        store.check(first.document_id, 1)
    store.check(first.document_id, 2)


def test_register_after_delete_restarts(store: StatusStore) -> None:
    first = store.register(upload())
    store.complete(first.document_id, 1)
    assert store.mark_deleted(first.document_id) is not None
    assert store.get(first.document_id).status is DocumentStatus.DELETED  # type: ignore[union-attr]
    again = store.register(upload())
    assert again.document_id == first.document_id
    assert again.created is False
    assert again.needs_processing is True
    assert again.generation == first.generation + 1
    doc = store.get(first.document_id)
    assert doc is not None
    assert doc.status is DocumentStatus.RECEIVED
    assert doc.deleted_at is None and doc.completed_at is None and doc.error is None


def test_register_while_failed_does_not_restart(store: StatusStore) -> None:
    first = store.register(upload())
    store.fail(first.document_id, "file is empty")
    again = store.register(upload())
    assert again.needs_processing is False
    assert again.generation == 1


# ---- the fence ---------------------------------------------------------------------------


def test_guard_passes_active_current_generation(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    with sessions() as s:
        doc = StatusStore.guard(s, reg.document_id, reg.generation)
        assert doc.id == reg.document_id


def test_guard_fences_a_deleted_document(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    store.mark_deleted(reg.document_id)
    with sessions() as s, pytest.raises(Fenced, match="deleted"):
        StatusStore.guard(s, reg.document_id, reg.generation)
    with pytest.raises(Fenced):
        store.begin_stage(reg.document_id, reg.generation, StageName.EXTRACT)
    assert stage_row(sessions, reg.document_id, StageName.EXTRACT) is None


def test_guard_fences_a_stale_generation(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    store.register(upload(), reprocess=True)
    with sessions() as s, pytest.raises(Fenced, match="superseded"):
        StatusStore.guard(s, reg.document_id, 1)
    with pytest.raises(Fenced):
        store.begin_stage(reg.document_id, 1, StageName.EXTRACT)
    store.begin_stage(reg.document_id, 2, StageName.EXTRACT)


def test_guard_fences_an_unknown_document(store: StatusStore) -> None:
    with pytest.raises(Fenced, match="does not exist"):
        store.check("no-such-document", 1)


def test_guard_fences_a_finished_document(store: StatusStore) -> None:
    reg = store.register(upload())
    store.fail(reg.document_id, "boom")
    with pytest.raises(Fenced):
        store.begin_stage(reg.document_id, reg.generation, StageName.EXTRACT)


def test_mark_deleted_removes_chunks(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    with transaction(sessions) as s:
        s.add(Chunk(id="c0", document_id=reg.document_id, idx=0, generation=1, text="hello",
                    token_count=3, element_types=[]))
    store.mark_deleted(reg.document_id)
    with sessions() as s:
        assert s.scalars(select(Chunk).where(Chunk.document_id == reg.document_id)).all() == []
    assert store.mark_deleted("no-such-document") is None


# ---- stages ------------------------------------------------------------------------------


def test_begin_and_finish_stage(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    store.begin_stage(reg.document_id, 1, StageName.EMBED, units_total=10)
    doc = store.get(reg.document_id)
    assert doc is not None
    assert doc.status is DocumentStatus.PROCESSING
    assert doc.stage is StageName.EMBED
    st = stage_row(sessions, reg.document_id, StageName.EMBED)
    assert st is not None
    assert (st.state, st.attempt, st.units_total) == (StageState.RUNNING, 1, 10)
    assert st.heartbeat_at is not None
    # A re-delivery of a running stage is not a new attempt.
    store.begin_stage(reg.document_id, 1, StageName.EMBED)
    assert stage_row(sessions, reg.document_id, StageName.EMBED).attempt == 1  # type: ignore[union-attr]
    store.finish_stage(reg.document_id, 1, StageName.EMBED)
    st = stage_row(sessions, reg.document_id, StageName.EMBED)
    assert st is not None
    assert st.state is StageState.DONE
    assert st.units_done == 10
    assert st.finished_at is not None


def test_step_commits_several_stage_changes_together(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    store.begin_stage(reg.document_id, 1, StageName.CHUNK)
    with store.step(reg.document_id, 1) as step:
        step.set(chunk_count=7)
        step.finish(StageName.CHUNK)
        step.hand_off(StageName.EMBED, units_total=7)
        step.progress(StageName.EMBED, 0, 7)
    doc = store.get(reg.document_id)
    assert doc is not None and (doc.chunk_count, doc.stage) == (7, StageName.EMBED)
    chunk = stage_row(sessions, reg.document_id, StageName.CHUNK)
    embed = stage_row(sessions, reg.document_id, StageName.EMBED)
    assert chunk is not None and chunk.state is StageState.DONE
    assert embed is not None and (embed.state, embed.units_done, embed.units_total) == (StageState.PENDING, 0, 7)


def test_step_is_all_or_nothing(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    store.begin_stage(reg.document_id, 1, StageName.EXTRACT)
    with pytest.raises(RuntimeError), store.step(reg.document_id, 1) as step:
        step.finish(StageName.EXTRACT)
        step.begin(StageName.CHUNK)
        raise RuntimeError("the worker failed between two changes")
    assert stage_row(sessions, reg.document_id, StageName.EXTRACT).state is StageState.RUNNING  # type: ignore[union-attr]
    assert stage_row(sessions, reg.document_id, StageName.CHUNK) is None
    # And behind the fence: a deleted document takes no stage change at all.
    store.mark_deleted(reg.document_id)
    with pytest.raises(Fenced), store.step(reg.document_id, 1) as step:
        step.finish(StageName.EXTRACT)

# ---- final states ------------------------------------------------------------------------


def test_fail_only_once(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    store.begin_stage(reg.document_id, 1, StageName.EXTRACT)
    assert store.fail(reg.document_id, "PDF is password protected") is True
    assert store.fail(reg.document_id, "second reason") is False
    doc = store.get(reg.document_id)
    assert doc is not None
    assert doc.status is DocumentStatus.FAILED
    assert doc.error == "PDF is password protected"
    assert doc.completed_at is not None
    st = stage_row(sessions, reg.document_id, StageName.EXTRACT)
    assert st is not None
    assert st.state is StageState.FAILED
    assert st.error == "PDF is password protected"


def test_fail_never_overrides_completed(store: StatusStore) -> None:
    reg = store.register(upload())
    assert store.complete(reg.document_id, 1) is True
    assert store.fail(reg.document_id, "too late") is False
    doc = store.get(reg.document_id)
    assert doc is not None
    assert doc.status is DocumentStatus.COMPLETED
    assert doc.error is None


def test_fail_with_stale_generation_does_nothing(store: StatusStore) -> None:
    reg = store.register(upload())
    store.register(upload(), reprocess=True)
    assert store.fail(reg.document_id, "old work", generation=1) is False
    assert store.get(reg.document_id).status is DocumentStatus.RECEIVED  # type: ignore[union-attr]
    assert store.fail(reg.document_id, "current work", generation=2) is True


def test_fail_unknown_document(store: StatusStore) -> None:
    assert store.fail("no-such-document", "x") is False


def test_complete_once(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    store.begin_stage(reg.document_id, 1, StageName.INDEX)
    assert store.complete(reg.document_id, 1) is True
    doc = store.get(reg.document_id)
    assert doc is not None
    assert doc.status is DocumentStatus.COMPLETED
    first_completed_at = doc.completed_at
    assert first_completed_at is not None
    assert stage_row(sessions, reg.document_id, StageName.INDEX).state is StageState.DONE  # type: ignore[union-attr]
    # A second caller is not told it completed the document.
    try:
        second = store.complete(reg.document_id, 1)
    except Fenced:
        second = False
    assert second is False
    assert store.get(reg.document_id).completed_at == first_completed_at  # type: ignore[union-attr]


def test_counts(store: StatusStore) -> None:
    a = store.register(upload(sha=SHA_A))
    store.register(upload(sha=SHA_B))
    store.fail(a.document_id, "x")
    assert store.counts() == {"failed": 1, "received": 1}


# ---- stale stages and the heartbeat ------------------------------------------------------


def test_stale_stages_finds_a_stopped_heartbeat(store: StatusStore, sessions: SessionFactory) -> None:
    stale = store.register(upload(sha=SHA_A))
    fresh = store.register(upload(sha=SHA_B))
    store.begin_stage(stale.document_id, 1, StageName.EMBED)
    store.begin_stage(fresh.document_id, 1, StageName.EMBED)
    old = utcnow() - timedelta(minutes=30)
    set_heartbeat(sessions, stale.document_id, StageName.EMBED, old)

    found = store.stale_stages(timedelta(minutes=10))
    assert [(r[0], r[1], r[2]) for r in found] == [(stale.document_id, 1, StageName.EMBED)]
    assert found[0][3] == old

    # Nothing is stale with a cutoff beyond its age.
    assert store.stale_stages(timedelta(hours=1)) == []


def test_stale_stages_ignores_finished_work(store: StatusStore, sessions: SessionFactory) -> None:
    done_stage = store.register(upload(sha=SHA_A))
    failed_doc = store.register(upload(sha=SHA_B))
    store.begin_stage(done_stage.document_id, 1, StageName.CHUNK)
    store.finish_stage(done_stage.document_id, 1, StageName.CHUNK)
    store.begin_stage(failed_doc.document_id, 1, StageName.CHUNK)
    store.fail(failed_doc.document_id, "x")
    old = utcnow() - timedelta(hours=2)
    set_heartbeat(sessions, done_stage.document_id, StageName.CHUNK, old)
    set_heartbeat(sessions, failed_doc.document_id, StageName.CHUNK, old)
    assert store.stale_stages(timedelta(minutes=1)) == []


def test_work_past_its_budget_fails_the_document_however_fresh_its_heartbeat(sessions: SessionFactory) -> None:
    """A worker blocked on a hung child keeps beating: the heartbeat's own budget
    (DOCUMIND_MAX_STAGE_S) fails the document and stops beating."""
    store = StatusStore(sessions, max_work_s=0.3)
    failed: list[int] = []
    store.on_failed = lambda: failed.append(1)  # the runtime counts documents_finished{failed}
    reg = store.register(upload())
    store.begin_stage(reg.document_id, reg.generation, StageName.EXTRACT)
    with store.heartbeat(reg.document_id, StageName.EXTRACT, 0.05, reg.generation):
        time.sleep(1.0)  # "hung"
    doc = store.get(reg.document_id)
    assert doc.status is DocumentStatus.FAILED
    assert doc.error == "stage extract still running after 0.3 s (DOCUMIND_MAX_STAGE_S)"
    assert failed == [1]  # counted once


def test_the_budget_counts_from_the_work_not_from_the_stage(sessions: SessionFactory) -> None:
    """Time waiting in a queue (a stage begun hours ago, its next range only now running) never
    counts, and a newer generation is never failed by an old one's budget."""
    store = StatusStore(sessions, max_work_s=0.5)
    reg = store.register(upload())
    store.begin_stage(reg.document_id, reg.generation, StageName.EXTRACT)
    with transaction(sessions) as s:
        s.execute(update(Stage).values(started_at=utcnow() - timedelta(hours=5)))
    with store.heartbeat(reg.document_id, StageName.EXTRACT, 0.05, reg.generation):
        time.sleep(0.2)
    assert store.get(reg.document_id).status is DocumentStatus.PROCESSING
    newer = store.register(upload(), reprocess=True)
    with store.heartbeat(reg.document_id, StageName.EXTRACT, 0.05, reg.generation):
        time.sleep(0.8)  # the old generation's work overran
    doc = store.get(reg.document_id)
    assert (doc.generation, doc.status) == (newer.generation, DocumentStatus.RECEIVED)


def test_heartbeat_keeps_the_stage_fresh(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    store.begin_stage(reg.document_id, 1, StageName.EMBED)
    old = utcnow() - timedelta(hours=1)
    set_heartbeat(sessions, reg.document_id, StageName.EMBED, old)
    assert len(store.stale_stages(timedelta(minutes=5))) == 1

    entered = utcnow()
    with store.heartbeat(reg.document_id, StageName.EMBED, interval_s=0.05):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            beat = stage_row(sessions, reg.document_id, StageName.EMBED).heartbeat_at  # type: ignore[union-attr]
            if beat is not None and beat >= entered:
                break
            time.sleep(0.02)
        assert beat is not None and beat >= entered
        assert store.stale_stages(timedelta(minutes=5)) == []

    # After the block the beating stops.
    set_heartbeat(sessions, reg.document_id, StageName.EMBED, old)
    time.sleep(0.25)
    assert stage_row(sessions, reg.document_id, StageName.EMBED).heartbeat_at == old  # type: ignore[union-attr]


def test_heartbeat_does_not_revive_a_finished_stage(store: StatusStore, sessions: SessionFactory) -> None:
    reg = store.register(upload())
    store.begin_stage(reg.document_id, 1, StageName.EMBED)
    store.finish_stage(reg.document_id, 1, StageName.EMBED)
    old = utcnow() - timedelta(hours=1)
    set_heartbeat(sessions, reg.document_id, StageName.EMBED, old)
    with store.heartbeat(reg.document_id, StageName.EMBED, interval_s=0.05):
        time.sleep(0.25)
    assert stage_row(sessions, reg.document_id, StageName.EMBED).heartbeat_at == old  # type: ignore[union-attr]
