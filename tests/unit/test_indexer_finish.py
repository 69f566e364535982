"""may_have_older_points: the past-the-end delete (a whole-collection scan in Qdrant
local mode) runs only when an earlier index pass can have left points behind."""

from __future__ import annotations

from sqlalchemy import update

from documind.db.engine import SessionFactory, transaction
from documind.db.models import Stage, StageName, StageState
from documind.status import StatusStore, Upload

from documind_search.indexer import may_have_older_points

SHA = "c" * 64


def older(store: StatusStore, document_id: str, gen: int) -> bool:
    return may_have_older_points(store.get(document_id), gen)


def test_first_index_pass_of_generation_one_skips_the_delete(sessions: SessionFactory) -> None:
    store = StatusStore(sessions)
    reg = store.register(Upload("acme", "a.txt", SHA, 10, f"acme/{SHA}"))
    store.begin_stage(reg.document_id, 1, StageName.INDEX)
    assert older(store, reg.document_id, 1) is False


def test_repeated_index_stage_keeps_the_delete(sessions: SessionFactory) -> None:
    store = StatusStore(sessions)
    reg = store.register(Upload("acme", "a.txt", SHA, 10, f"acme/{SHA}"))
    store.begin_stage(reg.document_id, 1, StageName.INDEX)
    # The stage was re-driven (e.g. by the watchdog): an earlier pass may have written points.
    with transaction(sessions) as s:
        s.execute(update(Stage).where(Stage.document_id == reg.document_id).values(state=StageState.PENDING))
    store.begin_stage(reg.document_id, 1, StageName.INDEX)
    assert older(store, reg.document_id, 1) is True


def test_completed_or_later_generation_keeps_the_delete(sessions: SessionFactory) -> None:
    store = StatusStore(sessions)
    reg = store.register(Upload("acme", "a.txt", SHA, 10, f"acme/{SHA}"))
    store.begin_stage(reg.document_id, 1, StageName.INDEX)
    store.complete(reg.document_id, 1)
    assert older(store, reg.document_id, 1) is True
    again = store.register(Upload("acme", "a.txt", SHA, 10, f"acme/{SHA}"), reprocess=True)
    assert again.generation == 2
    assert older(store, reg.document_id, 2) is True
