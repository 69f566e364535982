"""Page-range results on a migrated SQLite database: ranges land in any order, the last one
numbers every chunk in page order (dense idx), a retried range replaces its earlier attempt,
a late duplicate after assembly changes nothing, and the fence holds."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from documind.db.engine import SessionFactory
from documind.db.models import Chunk, PageRangeResult, StageName
from documind.errors import Fenced
from documind.status import StatusStore, Upload
from documind_ingest.chunking import ChunkDraft
from documind_ingest.range_store import clear_ranges, save_range


def drafts(first: int, last: int, per_page: int = 2) -> list[ChunkDraft]:
    return [
        ChunkDraft(f"page {p} part {i}", 6, p, p, ["NarrativeText"])
        for p in range(first, last + 1) for i in range(per_page)
    ]


@pytest.fixture
def doc(sessions: SessionFactory) -> tuple[StatusStore, str, int]:
    store = StatusStore(sessions)
    reg = store.register(Upload("acme", "m.pdf", "c" * 64, 10, "acme/c"))
    store.begin_stage(reg.document_id, reg.generation, StageName.EXTRACT, units_total=5)
    return store, reg.document_id, reg.generation


def chunks(sessions: SessionFactory, doc_id: str) -> list[tuple[int, str, int]]:
    with sessions() as s:
        return [tuple(r) for r in s.execute(
            select(Chunk.idx, Chunk.text, Chunk.page_start).where(Chunk.document_id == doc_id).order_by(Chunk.idx)
        )]


def test_ranges_in_any_order_assemble_once_in_page_order(sessions, doc) -> None:
    store, doc_id, gen = doc
    first = save_range(sessions, doc_id, gen, 5, 5, 5, drafts(5, 5), 0)
    assert (first.pages_done, first.assembled) == (1, None)
    retried = save_range(sessions, doc_id, gen, 3, 4, 5, drafts(3, 4, per_page=1), 1)
    again = save_range(sessions, doc_id, gen, 3, 4, 5, drafts(3, 4), 1)  # the retry replaces it
    assert retried.pages_done == again.pages_done == 3
    stage = next(s for s in store.get(doc_id).stages if s.name == StageName.EXTRACT)
    assert (stage.units_done, stage.units_total) == (3, 5)
    last = save_range(sessions, doc_id, gen, 1, 2, 5, drafts(1, 2), 0)
    assert last.assembled == 10 and last.ocr_pages == 1 and last.words == 40
    rows = chunks(sessions, doc_id)
    assert [r[0] for r in rows] == list(range(10))
    assert [r[2] for r in rows] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert rows[0][1] == "page 1 part 0" and rows[-1][1] == "page 5 part 1"
    with sessions() as s:
        assert s.scalars(select(PageRangeResult)).all() == []
    late = save_range(sessions, doc_id, gen, 3, 4, 5, drafts(3, 4), 0)  # a redelivered range
    assert late.stale and late.assembled is None
    assert len(chunks(sessions, doc_id)) == 10


def test_clear_ranges_starts_over_and_the_fence_holds(sessions, doc) -> None:
    store, doc_id, gen = doc
    save_range(sessions, doc_id, gen, 1, 5, 5, drafts(1, 5), 0)
    clear_ranges(sessions, doc_id, gen)
    assert chunks(sessions, doc_id) == []
    assert save_range(sessions, doc_id, gen, 1, 5, 5, drafts(1, 5), 0).assembled == 10
    cancelled_doc, did = store.cancel(doc_id)
    assert did and cancelled_doc.status.value == "cancelled"
    assert chunks(sessions, doc_id) == []
    with pytest.raises(Fenced):
        save_range(sessions, doc_id, gen, 1, 2, 5, drafts(1, 2), 0)
    assert store.cancel(doc_id)[1] is False  # final: refused
