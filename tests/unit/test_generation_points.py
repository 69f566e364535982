"""An old generation can never overwrite the new one's points (issue 10 item 8).

The race: the indexer of generation 1 reads its rows and builds its points; the document is
re-processed, and generation 2 indexes and completes; only then does generation 1's upsert
land, and its fence check fails. With point ids that ignored the generation, generation 1's
points replaced generation 2's under the same ids and stayed: search (which shows only the
current generation) lost the document until an ``index repair``.

Embedded runtime (StubBroker, SQLite in tmp_path), Qdrant local mode in memory, the
indexer called directly so the interleaving is exact."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from documind.contracts import IndexChunks, SearchQuery
from documind.db.engine import transaction
from documind.db.models import Chunk, StageName
from documind.errors import Fenced
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind.status import Upload
from documind.vectors import chunk_id, legacy_point_id
from documind_search.index_audit import IndexAudit
from documind_search.indexer import Indexer
from documind_search.points import build_points
from documind_search.query import QueryService
from documind_search.vector_index import Point, VectorIndex

MODEL = "test-model"
DIM = 8
COLLECTION = "chunks"
SHA = "d" * 64
OLD = ["glaciers carve valleys", "sourdough starters ferment", "lighthouses warn ships"]
NEW = ["tardigrades survive freezing", "honeybees dance figures", "copper roofs turn green"]


class Crash(Exception):
    """A worker dying between its upsert and its fence check."""


class KeywordOnlyEncoder:
    """Searches here run in keyword mode: the encoder is consulted for its model name only."""

    model_name = MODEL
    dimension = DIM

    def encode(self, texts: list[str]) -> np.ndarray:  # pragma: no cover - never called
        raise AssertionError("keyword search must not encode")


class LateIndex(VectorIndex):
    """Runs ``before`` (once) when the first upsert arrives, then writes; ``after`` runs after
    the write (it may raise :class:`Crash`)."""

    def __init__(self, client: QdrantClient, before: Callable[[], None], after: Callable[[], None] = lambda: None):
        super().__init__(client, COLLECTION, MODEL, DIM)
        self.before, self.after = before, after

    def upsert(self, points: list[Point]) -> None:
        before, self.before = self.before, lambda: None
        before()
        super().upsert(points)
        self.after()


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(data_dir=tmp_path / "data", renditions=False), configure_logs=False)
    yield rt
    rt.close()


@pytest.fixture
def client() -> QdrantClient:
    return QdrantClient(location=":memory:")


def vector(i: int) -> bytes:
    v = np.random.default_rng(i).normal(size=DIM).astype(np.float32)
    return (v / np.linalg.norm(v)).tobytes()


def store_generation(runtime: Runtime, doc_id: str, gen: int, texts: list[str]) -> None:
    """What ingest and embed leave for the indexer: the generation's embedded chunk rows
    (replacing the previous generation's, as ingest does) and its chunk count."""
    with transaction(runtime.sessions) as s:
        s.execute(Chunk.__table__.delete().where(Chunk.document_id == doc_id))
        s.add_all(
            Chunk(id=chunk_id(doc_id, i), document_id=doc_id, idx=i, generation=gen, text=t, token_count=3,
                  page_start=1, page_end=1, element_types=[], embedding=vector(gen * 100 + i), embedding_model=MODEL)
            for i, t in enumerate(texts)
        )
    with runtime.status.step(doc_id, gen) as step:
        step.set(chunk_count=len(texts))


def register(runtime: Runtime, *, reprocess: bool = False) -> tuple[str, int]:
    reg = runtime.status.register(Upload("acme", "notes.txt", SHA, 10, f"acme/{SHA}"), reprocess=reprocess)
    return reg.document_id, reg.generation


def index_all(runtime: Runtime, index: VectorIndex, doc_id: str, gen: int, n: int) -> int:
    return Indexer(runtime, index).index_chunks(IndexChunks(document_id=doc_id, generation=gen, start=0, end=n))


def reprocess_and_index(runtime: Runtime, client: QdrantClient) -> Callable[[], None]:
    def run() -> None:
        doc_id, gen = register(runtime, reprocess=True)
        assert gen == 2
        store_generation(runtime, doc_id, gen, NEW)
        index_all(runtime, VectorIndex(client, COLLECTION, MODEL, DIM), doc_id, gen, len(NEW))
        assert runtime.status.get(doc_id).status.value == "completed"  # type: ignore[union-attr]

    return run


def search_texts(runtime: Runtime, index: VectorIndex, text: str) -> list[str]:
    qs = QueryService(runtime.sessions, KeywordOnlyEncoder(), index)  # type: ignore[arg-type]
    hits = qs.search(SearchQuery(tenant="acme", query=text, top_k=10, mode="keyword"))["hits"]
    return [h["text"] for h in hits]


def payloads(client: QdrantClient, doc_id: str) -> list[dict]:
    flt = models.Filter(must=[models.FieldCondition(key="document_id", match=models.MatchValue(value=doc_id))])
    points, _ = client.scroll(COLLECTION, scroll_filter=flt, limit=100, with_payload=True)
    return [dict(p.payload or {}) for p in points]


def assert_only_generation_two(runtime: Runtime, client: QdrantClient, index: VectorIndex, doc_id: str) -> None:
    for old, new in zip(OLD, NEW):
        assert search_texts(runtime, index, new) == [new]
        assert search_texts(runtime, index, old) == []
    found = payloads(client, doc_id)
    assert sorted(p["text"] for p in found) == sorted(NEW)
    assert {p["generation"] for p in found} == {2}
    assert len(found) == runtime.status.get(doc_id).chunk_count  # type: ignore[union-attr]


def test_fenced_old_generation_upserting_late_leaves_nothing_behind(runtime: Runtime, client: QdrantClient) -> None:
    doc_id, gen = register(runtime)
    store_generation(runtime, doc_id, gen, OLD)
    # Generation 1 has read its rows and built its points; generation 2 indexes and completes
    # before generation 1's upsert lands.
    late = LateIndex(client, before=reprocess_and_index(runtime, client))
    with pytest.raises(Fenced, match="superseded"):
        index_all(runtime, late, doc_id, gen, len(OLD))
    assert_only_generation_two(runtime, client, late, doc_id)
    assert IndexAudit(runtime.sessions, late).run().clean


def test_old_generation_dying_after_its_late_upsert_is_never_served_and_repair_removes_it(
    runtime: Runtime, client: QdrantClient
) -> None:
    doc_id, gen = register(runtime)
    store_generation(runtime, doc_id, gen, OLD)

    def crash() -> None:
        raise Crash()

    late = LateIndex(client, before=reprocess_and_index(runtime, client), after=crash)
    with pytest.raises(Crash):
        index_all(runtime, late, doc_id, gen, len(OLD))
    # Generation 1's points are still there (nobody took them back), but under their own ids:
    # generation 2's are intact and search shows only them.
    for old, new in zip(OLD, NEW):
        assert search_texts(runtime, late, new) == [new]
        assert search_texts(runtime, late, old) == []
    audit = IndexAudit(runtime.sessions, late)
    report = audit.run()
    assert (report.extra.count, report.missing.count, report.stale.count) == (len(OLD), 0, 0)
    assert audit.run(repair=True).repaired["deleted"] == len(OLD)
    assert_only_generation_two(runtime, client, late, doc_id)
    assert audit.run().clean


def test_old_generation_upserting_before_the_new_one_completes_is_removed_on_completion(
    runtime: Runtime, client: QdrantClient
) -> None:
    doc_id, gen = register(runtime)
    store_generation(runtime, doc_id, gen, OLD)
    # Generation 1's upsert lands first; generation 2 then indexes and completes before
    # generation 1's fence check.
    run_gen2 = reprocess_and_index(runtime, client)
    late = LateIndex(client, before=lambda: None, after=run_gen2)
    with pytest.raises(Fenced, match="superseded"):
        index_all(runtime, late, doc_id, gen, len(OLD))
    assert_only_generation_two(runtime, client, late, doc_id)


def test_twin_delivery_fenced_by_its_own_generations_completion_keeps_the_points(
    runtime: Runtime, client: QdrantClient
) -> None:
    doc_id, gen = register(runtime)
    store_generation(runtime, doc_id, gen, OLD)
    index = VectorIndex(client, COLLECTION, MODEL, DIM)
    index.ensure()

    def twin() -> None:
        index_all(runtime, VectorIndex(client, COLLECTION, MODEL, DIM), doc_id, gen, len(OLD))

    late = LateIndex(client, before=lambda: None, after=twin)
    with pytest.raises(Fenced, match="completed"):
        index_all(runtime, late, doc_id, gen, len(OLD))
    assert sorted(p["text"] for p in payloads(client, doc_id)) == sorted(OLD)
    assert search_texts(runtime, late, OLD[0]) == [OLD[0]]


def test_points_written_before_generation_keyed_ids_are_served_then_replaced(
    runtime: Runtime, client: QdrantClient
) -> None:
    """A collection of the previous release: same layout, ids without the generation."""
    doc_id, gen = register(runtime)
    store_generation(runtime, doc_id, gen, OLD)
    runtime.status.begin_stage(doc_id, gen, StageName.INDEX)
    runtime.status.complete(doc_id, gen)
    index = VectorIndex(client, COLLECTION, MODEL, DIM)
    doc = runtime.status.get(doc_id)
    with runtime.sessions() as s:
        rows = list(s.query(Chunk).filter(Chunk.document_id == doc_id).order_by(Chunk.idx))
        points = build_points(doc, rows, MODEL)  # type: ignore[arg-type]
    index.upsert([Point(legacy_point_id(doc_id, i, MODEL), p.vector, p.payload, p.sparse) for i, p in enumerate(points)])
    assert search_texts(runtime, index, OLD[1]) == [OLD[1]]  # still served

    # Re-processing completes with the new ids and removes the old ones.
    reprocess_and_index(runtime, client)()
    assert_only_generation_two(runtime, client, index, doc_id)
