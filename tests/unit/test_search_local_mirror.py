"""The local-mode mirror (documind_search/local_mirror.py): dense, keyword and hybrid queries rank
as qdrant-client's own engine ranks them (same candidates, scores and fusion), on real text,
with tenants kept apart, and every write through ``VectorIndex`` is seen at once; a write that
bypassed it is caught by the point count before the next query."""

from __future__ import annotations

import re
import uuid
import zlib
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from documind_search.filters import SearchFilters
from documind_search.local_mirror import LocalMirror
from documind_search.keywords import Bm25Params, document_vector, query_vector
from documind_search.tenant_census import TenantCensus
from documind_search.vector_index import DENSE, SPARSE, FusionMethod, Point, SearchMode, VectorIndex

REPO = Path(__file__).resolve().parents[2]
DIM = 16
MODEL = "all-MiniLM-L6-v2"
QUERIES = [
    "how does a worker recover a lost message",
    "tenant isolation of search results",
    "re-embed every chunk after a model swap",
    "OCR of scanned pages with tesseract",
    "retry and dead letter queue",
    "prometheus metrics of the embed service",
    "the the of and",  # stopwords only: no keyword terms
]


def _paragraphs() -> list[str]:
    """Real English text that every clone has: the project's own documentation."""
    paras: list[str] = []
    for path in sorted([REPO / "README.md", *REPO.glob("docs/**/*.md"), *REPO.glob("*/README.md"),
                        *REPO.glob("services/*/README.md")]):
        for para in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            if len(para.split()) >= 8:
                paras.append(para.strip())
    return paras


def _unit(rng: np.random.Generator) -> list[float]:
    v = rng.normal(size=DIM)
    return (v / np.linalg.norm(v)).tolist()


def _point(tenant: str, doc: str, idx: int, text: str, rng: np.random.Generator, generation: int = 1) -> Point:
    return Point(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}:{doc}:{idx}:{generation}")), vector=_unit(rng),
        sparse=document_vector(text, Bm25Params()),
        payload={"tenant": tenant, "document_id": doc, "generation": generation, "chunk_index": idx, "text": text,
                 "mime_type": "text/markdown" if idx % 2 else "text/plain"},
    )


@pytest.fixture(scope="module")
def corpus() -> list[Point]:
    rng = np.random.default_rng(5)
    paras = _paragraphs()
    assert len(paras) > 150, "the documentation should give a few hundred paragraphs"
    points = [
        _point("acme" if i % 3 else "globex", f"doc-{i // 4}", i % 4, text, rng) for i, text in enumerate(paras)
    ]
    # A point whose text has no keyword terms: in the collection, but not in the IDF corpus.
    points.append(_point("acme", "doc-stop", 0, "the of and to", rng))
    return points


def _indexes(corpus: list[Point]) -> tuple[VectorIndex, VectorIndex, LocalMirror]:
    """The same collection queried by the engine alone and through the mirror."""
    client = QdrantClient(location=":memory:")
    mirror = LocalMirror(SPARSE, DENSE, read_after=1)
    fast = VectorIndex(client, "chunks", MODEL, DIM, census=TenantCensus(), mirror=mirror)
    fast.upsert(corpus)
    return VectorIndex(client, "chunks", MODEL, DIM), fast, mirror


def _search(index: VectorIndex, text: str, mode: SearchMode, fusion: FusionMethod, tenant: str = "acme",
            limit: int = 10, **flt) -> list[tuple[str, float]]:  # noqa: ANN003
    dense = _unit(np.random.default_rng(zlib.crc32(text.encode())))
    hits = index.search(filters=SearchFilters(tenant=tenant, **flt), limit=limit, mode=mode, dense=dense,
                        sparse=query_vector(text), fusion=fusion, prefetch_limit=40)
    assert all(h.payload["tenant"] == tenant for h in hits)
    return [(h.point_id, h.score) for h in hits]


def _same_ranking(engine: list[tuple[str, float]], mirrored: list[tuple[str, float]]) -> None:
    """Equal scores (to float32 rounding) in the same order; ids equal wherever a score is not
    tied (the engine's order among equal scores is arbitrary)."""
    assert [s for _, s in mirrored] == pytest.approx([s for _, s in engine], abs=1e-5)
    scores = [s for _, s in engine]

    def tied(x: float) -> bool:
        return sum(abs(x - y) < 1e-5 for y in scores) > 1 or abs(x - scores[-1]) < 1e-5

    for (a, sa), (b, _) in zip(engine, mirrored):
        if not tied(sa):
            assert a == b


@pytest.mark.parametrize("mode", list(SearchMode))
def test_ranks_as_the_engine_does(corpus: list[Point], mode: SearchMode) -> None:
    engine, fast, mirror = _indexes(corpus)
    found = 0
    for text in QUERIES:
        for tenant in ("acme", "globex"):
            expected = _search(engine, text, mode, FusionMethod.DBSF, tenant)
            _same_ranking(expected, _search(fast, text, mode, FusionMethod.DBSF, tenant))
            found += bool(expected)
    assert found >= 10
    assert mirror.rebuilds == 1  # read once, on the first query


def test_rrf_fuses_the_same_candidates(corpus: list[Point]) -> None:
    """RRF scores ranks, and the engine orders equal BM25 scores arbitrarily, so a tie in one
    side can move a fused score; the fused lists still share nearly all their hits."""
    engine, fast, _mirror = _indexes(corpus)
    for text in QUERIES[:-1]:
        expected = {pid for pid, _ in _search(engine, text, SearchMode.HYBRID, FusionMethod.RRF)}
        got = {pid for pid, _ in _search(fast, text, SearchMode.HYBRID, FusionMethod.RRF)}
        assert len(expected & got) >= 0.7 * len(expected)


def test_a_narrowing_filter_is_answered_by_the_engine(corpus: list[Point]) -> None:
    engine, fast, mirror = _indexes(corpus)
    for mode in (SearchMode.KEYWORD, SearchMode.HYBRID):
        expected = _search(engine, QUERIES[0], mode, FusionMethod.DBSF, mime_types=("text/plain",))
        assert expected
        _same_ranking(expected, _search(fast, QUERIES[0], mode, FusionMethod.DBSF, mime_types=("text/plain",)))
    assert mirror.rebuilds == 0


def test_unknown_tenant_and_unknown_words_find_nothing(corpus: list[Point]) -> None:
    _engine, fast, _mirror = _indexes(corpus)
    assert _search(fast, QUERIES[0], SearchMode.KEYWORD, FusionMethod.DBSF, tenant="initech") == []
    assert _search(fast, "xylophonequartz zzyzx", SearchMode.KEYWORD, FusionMethod.DBSF) == []


def _ids(index: VectorIndex, text: str, tenant: str = "acme") -> set[str]:
    return {pid for pid, _ in _search(index, text, SearchMode.KEYWORD, FusionMethod.DBSF, tenant, limit=50)}


def test_writes_through_the_index_are_seen_without_reading_again(corpus: list[Point]) -> None:
    engine, fast, mirror = _indexes(corpus)
    rng = np.random.default_rng(1)
    assert _ids(fast, "quokka marmalade") == set()  # reads the collection
    new = _point("acme", "doc-new", 0, "A quokka ate the marmalade.", rng)
    fast.upsert([new])
    assert _ids(fast, "quokka marmalade") == {new.id} == _ids(engine, "quokka marmalade")

    # The same point written again with other text: the old words no longer find it.
    fast.upsert([Point(new.id, new.vector, new.payload, document_vector("A wombat ate the jam.", Bm25Params()))])
    assert _ids(fast, "quokka") == set() and _ids(fast, "wombat") == {new.id}

    # Re-processing: generation 2 written, then what generations before it left behind deleted.
    gen2 = _point("acme", "doc-new", 0, "A wombat ate the jam again.", rng, generation=2)
    fast.upsert([gen2])
    fast.delete_document("doc-new", before_generation=2)
    assert _ids(fast, "wombat") == {gen2.id} == _ids(engine, "wombat")

    fast.delete_points([gen2.id])
    assert _ids(fast, "wombat") == set()
    some = corpus[1]
    fast.delete_document(some.payload["document_id"])
    assert not any(pid in {p.id for p in corpus if p.payload["document_id"] == some.payload["document_id"]}
                   for pid in _ids(fast, some.payload["text"], some.payload["tenant"]))
    assert mirror.rebuilds == 1


def test_a_write_that_bypassed_the_mirror_is_caught_by_the_count(corpus: list[Point]) -> None:
    engine, fast, mirror = _indexes(corpus)
    assert _ids(fast, "quokka") == set()
    p = _point("acme", "doc-x", 0, "quokka", np.random.default_rng(2))
    engine.client.upsert("chunks", points=[models.PointStruct(
        id=p.id, vector={"dense": p.vector, SPARSE: models.SparseVector(indices=p.sparse.indices, values=p.sparse.values)},
        payload=p.payload)], wait=True)
    assert _ids(fast, "quokka") == {p.id}
    assert mirror.rebuilds == 2


def test_a_dropped_and_recreated_collection_answers_from_its_new_contents(corpus: list[Point]) -> None:
    _engine, fast, mirror = _indexes(corpus)
    real = fast.alias_target()
    assert real and _ids(fast, QUERIES[0])
    fast.drop_collection(real)  # the alias goes with it
    fast.create_collection(real)
    fast.client.update_collection_aliases(change_aliases_operations=[models.CreateAliasOperation(
        create_alias=models.CreateAlias(collection_name=real, alias_name="chunks"))])
    assert _ids(fast, QUERIES[0]) == set()
    assert mirror.rebuilds == 2


def test_warm_up_reads_the_live_collection_once(corpus: list[Point]) -> None:
    _engine, fast, mirror = _indexes(corpus)
    fast.warm_mirror()
    assert mirror.rebuilds == 1
    assert _ids(fast, QUERIES[0])
    assert mirror.rebuilds == 1


def test_a_process_reads_a_collection_only_from_its_third_query(corpus: list[Point]) -> None:
    """A one-shot embedded search answers through the engine without paying for the read."""
    client = QdrantClient(location=":memory:")
    mirror = LocalMirror(SPARSE, DENSE)
    index = VectorIndex(client, "chunks", MODEL, DIM, census=TenantCensus(), mirror=mirror)
    index.upsert(corpus)
    for expected_reads in (0, 0, 1, 1):
        assert _ids(index, QUERIES[0])
        assert mirror.rebuilds == expected_reads


def test_ties_are_broken_by_point_id_whatever_the_write_order(corpus: list[Point]) -> None:
    """Two collections with the same points written in opposite orders answer alike, to the
    last tied hit (a rollback re-embeds into a new collection and must give the same answers)."""
    answers = []
    for points in (corpus, corpus[::-1]):
        client = QdrantClient(location=":memory:")
        index = VectorIndex(client, "chunks", MODEL, DIM, mirror=LocalMirror(SPARSE, DENSE, read_after=1))
        index.upsert(points[:40])
        index.upsert(points[40:])
        answers.append([_search(index, text, SearchMode.KEYWORD, FusionMethod.DBSF, tenant, limit=25)
                        for text in QUERIES for tenant in ("acme", "globex")])
    assert answers[0] == answers[1]
    assert any(len({s for _, s in hits}) < len(hits) for hits in answers[0])  # ties were there to break


def test_a_warmed_up_process_reads_a_new_collection_at_its_first_query(corpus: list[Point]) -> None:
    client = QdrantClient(location=":memory:")
    mirror = LocalMirror(SPARSE, DENSE)
    index = VectorIndex(client, "chunks", MODEL, DIM, mirror=mirror)
    index.upsert(corpus[:50])
    index.warm_mirror()
    other = index.sibling("chunks__v2")
    other.create_collection("chunks__v2")
    other.upsert(corpus[50:])
    assert _ids(other, QUERIES[0])
    assert mirror.rebuilds == 2


def _contents(index: VectorIndex) -> dict[str, dict]:
    return {pid: payload for pid, payload in index.scroll(None, 256, ["document_id", "generation", "labels"])}


def test_document_writes_find_their_points_by_id_as_the_filter_does(
    corpus: list[Point], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deletes, payload updates and counts of one document, through the mirror's record of its
    points (by id) and through the engine's filter, leave the same collection; new points are
    folded in without a query (FOLD_AT made small) and still found."""
    import documind_search.local_mirror as local_mirror

    monkeypatch.setattr(local_mirror, "FOLD_AT", 8)
    plain = VectorIndex(QdrantClient(location=":memory:"), "chunks", MODEL, DIM)
    mirror = LocalMirror(SPARSE, DENSE, read_after=1)
    fast = VectorIndex(QdrantClient(location=":memory:"), "chunks", MODEL, DIM, mirror=mirror)
    selectors: list[object] = []
    set_payload = fast.client.set_payload
    monkeypatch.setattr(fast.client, "set_payload",
                        lambda *a, **kw: (selectors.append(kw["points"]), set_payload(*a, **kw))[1])
    rng = np.random.default_rng(3)
    rewritten = range(0, 120, 2)
    gen2 = [_point("acme", f"doc-{d}", i, f"second version {d} {i}", rng, generation=2)
            for d in rewritten for i in range(4)]
    assert len(gen2) >= len(corpus) // 2  # enough to be folded in at once
    for index in (plain, fast):
        index.upsert(corpus)
        index.warm_mirror()
        index.upsert(gen2)
        for d in rewritten:
            index.delete_document(f"doc-{d}", before_generation=2)
            index.set_document_payload(f"doc-{d}", 2, {"labels": ["re-processed"]})
            index.set_document_payload(f"doc-{d}", 1, {"labels": ["stale"]})  # generation 1 is gone: nothing
        index.set_document_payload("doc-1", 1, {"labels": ["kept"]})
        index.delete_points([gen2[0].id])
        index.delete_document("doc-3")
    assert not mirror._collections[fast.alias_target()].new  # folded without a query
    assert _contents(fast) == _contents(plain)
    assert fast.count("doc-0") == plain.count("doc-0") == 3
    assert fast.count("doc-2") == plain.count("doc-2") == 4
    assert fast.count("doc-3") == plain.count("doc-3") == 0
    assert fast.count("doc-1") == plain.count("doc-1") == 4
    assert {p["labels"][0] for p in _contents(fast).values() if p.get("labels")} == {"re-processed", "kept"}
    assert selectors and all(isinstance(s, list) for s in selectors)  # by id: no scan of every point
    assert mirror.rebuilds == 1


def test_a_one_shot_process_finds_a_documents_points_by_filter_until_its_third_use(corpus: list[Point]) -> None:
    """Reading the collection costs more than a few filtered scans: a process that has not read
    it yet (an embedded CLI command) filters, as for queries."""
    mirror = LocalMirror(SPARSE, DENSE)
    index = VectorIndex(QdrantClient(location=":memory:"), "chunks", MODEL, DIM, mirror=mirror)
    index.upsert(corpus)
    for expected_reads in (0, 0, 1, 1):
        assert index.count("doc-0") == 4
        assert mirror.rebuilds == expected_reads
