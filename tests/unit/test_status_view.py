"""documind.status_view: the stored status and stage rows, moved by the real StatusStore on
SQLite, shown as the phases people name, with percent progress and heartbeat age."""

from __future__ import annotations

from datetime import timedelta

import pytest

from documind.db.engine import SessionFactory
from documind.db.models import StageName
from documind.status import StatusStore, Upload
from documind.status_view import PHASES, phase_of, stage_dict, view_fields


@pytest.fixture
def store(sessions: SessionFactory) -> StatusStore:
    return StatusStore(sessions)


def new_doc(store: StatusStore) -> tuple[str, int]:
    reg = store.register(Upload("acme", "a.pdf", "e" * 64, 10, "acme/e"))
    return reg.document_id, reg.generation


def phase(store: StatusStore, doc_id: str) -> str:
    return phase_of(store.get(doc_id)).phase


def test_the_whole_way_to_completed(store: StatusStore) -> None:
    doc_id, gen = new_doc(store)
    seen = [phase(store, doc_id)]
    for stage in (StageName.VALIDATE, StageName.EXTRACT, StageName.CHUNK):
        store.begin_stage(doc_id, gen, stage)
        seen.append(phase(store, doc_id))
        store.finish_stage(doc_id, gen, stage)
    store.hand_off(doc_id, gen, StageName.EMBED, units_total=200)
    seen.append(phase(store, doc_id))
    store.begin_stage(doc_id, gen, StageName.EMBED)
    store.set_progress(doc_id, StageName.EMBED, 50, 200)
    seen.append(phase(store, doc_id))
    store.finish_stage(doc_id, gen, StageName.EMBED)
    store.begin_stage(doc_id, gen, StageName.INDEX)
    store.set_progress(doc_id, StageName.INDEX, 100, 200)
    seen.append(phase(store, doc_id))
    store.set_progress(doc_id, StageName.INDEX, 200, 200)
    seen.append(phase(store, doc_id))
    store.finish_stage(doc_id, gen, StageName.INDEX)
    store.complete(doc_id, gen)
    seen.append(phase(store, doc_id))
    assert seen == [
        "received", "validating", "extracting", "chunking", "handed to embedding",
        "embedding", "indexing", "indexed", "completed",
    ]
    assert all(p in PHASES for p in seen)


def test_embedding_progress_in_percent(store: StatusStore) -> None:
    doc_id, gen = new_doc(store)
    store.begin_stage(doc_id, gen, StageName.CHUNK)
    store.finish_stage(doc_id, gen, StageName.CHUNK)
    store.hand_off(doc_id, gen, StageName.EMBED, units_total=200)
    view = phase_of(store.get(doc_id))
    assert (view.done, view.total, view.percent) == (0, 200, 0.0)
    store.begin_stage(doc_id, gen, StageName.EMBED)
    store.set_progress(doc_id, StageName.EMBED, 50, 200)
    view = phase_of(store.get(doc_id))
    assert (view.phase, view.stage, view.done, view.total, view.percent) == ("embedding", StageName.EMBED, 50, 200, 25.0)
    assert view.progress() == {"done": 50, "total": 200, "percent": 25.0}


def test_embedding_still_running_while_the_first_ranges_are_indexed(store: StatusStore) -> None:
    """The document's stage flips between embed and index; the phase stays 'embedding'
    until every chunk has its vector."""
    doc_id, gen = new_doc(store)
    store.hand_off(doc_id, gen, StageName.EMBED, units_total=256)
    store.begin_stage(doc_id, gen, StageName.EMBED)
    store.set_progress(doc_id, StageName.EMBED, 128, 256)
    store.begin_stage(doc_id, gen, StageName.INDEX)  # range 0-128 being indexed
    assert store.get(doc_id).stage is StageName.INDEX  # type: ignore[union-attr]
    assert phase(store, doc_id) == "embedding"


def test_heartbeat_age(store: StatusStore) -> None:
    doc_id, gen = new_doc(store)
    store.begin_stage(doc_id, gen, StageName.EXTRACT)
    doc = store.get(doc_id)
    beat = next(s for s in doc.stages if s.name is StageName.EXTRACT).heartbeat_at  # type: ignore[union-attr]
    view = phase_of(doc, now=beat + timedelta(seconds=42))
    assert (view.phase, view.heartbeat_age_s) == ("extracting", 42.0)
    row = stage_dict(next(s for s in doc.stages if s.name is StageName.EXTRACT), now=beat + timedelta(seconds=7))  # type: ignore[union-attr]
    assert (row["label"], row["state"], row["heartbeat_age_s"], row["percent"]) == ("extracting", "running", 7.0, None)


def test_failed_and_final_fields(store: StatusStore) -> None:
    doc_id, gen = new_doc(store)
    store.begin_stage(doc_id, gen, StageName.VALIDATE)
    store.fail(doc_id, "file is encrypted", generation=gen)
    fields = view_fields(store.get(doc_id))
    assert fields == {"phase": "failed", "progress": None, "heartbeat_age_s": None, "final": True}


def test_view_fields_have_stable_keys_while_running(store: StatusStore) -> None:
    doc_id, gen = new_doc(store)
    assert set(view_fields(store.get(doc_id))) == {"phase", "progress", "heartbeat_age_s", "final"}
    assert view_fields(store.get(doc_id))["final"] is False
