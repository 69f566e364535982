"""The local-mode shortcut (documind_search/tenant_census.py): a collection that holds only the
querying tenant's points is searched without the tenant filter (qdrant-client's local mode
evaluates a filter in Python for every point), with the same answers, and never at the cost of
isolation: another tenant's write ends the shortcut, and a census that is wrong anyway is caught
by the hits' own tenants."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from documind_search.filters import SearchFilters
from documind_search.keywords import Bm25Params, document_vector, query_vector
from documind_search.tenant_census import TenantCensus
from documind_search.vector_index import DENSE, SPARSE, FusionMethod, Point, SearchMode, VectorIndex

DIM = 8
MODEL = "all-MiniLM-L6-v2"
WORDS = "zebrafish fin regeneration protein folding revenue retail segment growth cell".split()


def _unit(rng: np.random.Generator) -> list[float]:
    v = rng.normal(size=DIM)
    return (v / np.linalg.norm(v)).tolist()


def _points(tenant: str, n: int, seed: int) -> list[Point]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS, size=5))
        out.append(Point(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}:{i}")), vector=_unit(rng),
            sparse=document_vector(text, Bm25Params(avg_len=5)),
            payload={"tenant": tenant, "document_id": f"{tenant}-{i % 7}", "text": text,
                     "mime_type": "text/plain" if i % 2 else "application/pdf"},
        ))
    return out


class QueryFilters:
    """Records the filter of every query (the real engine still answers it)."""

    def __init__(self, client: QdrantClient) -> None:
        self.seen: list[models.Filter | None] = []
        real = client.query_points

        def query_points(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.seen.append(kwargs.get("query_filter"))
            return real(*args, **kwargs)

        client.query_points = query_points  # type: ignore[method-assign]

    def tenant_filtered(self) -> bool:
        last = self.seen[-1]
        return last is not None and any(getattr(c, "key", None) == "tenant" for c in last.must or [])


@pytest.fixture
def client() -> QdrantClient:
    return QdrantClient(location=":memory:")


def _pair(client: QdrantClient) -> tuple[VectorIndex, VectorIndex]:
    """The same collection with and without the census."""
    plain = VectorIndex(client, "chunks", MODEL, DIM)
    return VectorIndex(client, "chunks", MODEL, DIM, census=TenantCensus()), plain


def _search(index: VectorIndex, tenant: str, mode: SearchMode, seed: int = 99, **flt) -> list[tuple[str, float]]:  # noqa: ANN003
    hits = index.search(filters=SearchFilters(tenant=tenant, **flt), limit=10, mode=mode,
                        dense=_unit(np.random.default_rng(seed)), sparse=query_vector("zebrafish fin growth"),
                        fusion=FusionMethod.DBSF, prefetch_limit=20)
    return [(h.payload["tenant"] + ":" + h.point_id, round(h.score, 6)) for h in hits]


@pytest.mark.parametrize("mode", list(SearchMode))
def test_a_single_tenant_collection_answers_the_same_without_the_filter(client: QdrantClient, mode: SearchMode) -> None:
    census, plain = _pair(client)
    census.upsert(_points("t1", 60, seed=1))
    spy = QueryFilters(client)
    for flt in ({}, {"mime_types": ("text/plain",)}, {"document_ids": ("t1-3", "t1-4")}):
        fast = _search(census, "t1", mode, **flt)
        assert not spy.tenant_filtered()  # the shortcut was taken
        assert fast == _search(plain, "t1", mode, **flt) and fast  # ... and changed nothing
    assert _search(census, "t2", mode) == []  # another tenant: filtered, finds nothing here
    assert spy.tenant_filtered()


@pytest.mark.parametrize("mode", list(SearchMode))
def test_another_tenants_write_ends_the_shortcut(client: QdrantClient, mode: SearchMode) -> None:
    census, plain = _pair(client)
    census.upsert(_points("t1", 40, seed=1))
    spy = QueryFilters(client)
    _search(census, "t1", mode)
    assert not spy.tenant_filtered()
    # Through a sibling (how a re-index or model swap writes): the census is shared.
    census.sibling("chunks").upsert(_points("t2", 40, seed=2))  # t2's points are as close as t1's
    for tenant in ("t1", "t2"):
        hits = _search(census, tenant, mode)
        assert spy.tenant_filtered()
        assert hits and {h.split(":")[0] for h, _ in hits} == {tenant}
        assert hits == _search(plain, tenant, mode)


def test_a_wrong_census_cannot_leak_another_tenants_points(client: QdrantClient) -> None:
    census, plain = _pair(client)
    census.upsert(_points("t1", 30, seed=1))
    _search(census, "t1", SearchMode.DENSE)  # the census now says: only t1
    # A write the census never saw (impossible in local mode, where every write goes through
    # VectorIndex): t2's points straight through the client.
    t2 = _points("t2", 30, seed=2)
    client.upsert("chunks", points=[models.PointStruct(id=p.id, payload=p.payload, vector={
        DENSE: p.vector, SPARSE: models.SparseVector(indices=p.sparse.indices, values=p.sparse.values)}) for p in t2])
    for mode in SearchMode:
        hits = _search(census, "t1", mode)
        assert hits and {h.split(":")[0] for h, _ in hits} == {"t1"}
        assert hits == _search(plain, "t1", mode)


def test_census_entries() -> None:
    c = TenantCensus()
    counted: list[str] = []

    def count(name: str) -> list[str]:
        counted.append(name)
        return {"a": ["t1"], "b": ["t1", "t2"], "empty": []}[name]

    assert c.only_tenant_is("a", "t1", count) and not c.only_tenant_is("a", "t2", count)
    assert not c.only_tenant_is("b", "t1", count)
    assert c.only_tenant_is("empty", "t9", count)  # nothing to leak
    assert counted == ["a", "b", "empty"]  # counted once each
    c.written(["t1"])  # a known tenant: entries stay
    assert c.only_tenant_is("a", "t1", count) and counted == ["a", "b", "empty"]
    c.written(["t2", None])  # a new tenant for "a" and "empty": counted again
    c.only_tenant_is("a", "t1", count)
    c.only_tenant_is("b", "t1", count)
    c.only_tenant_is("empty", "t1", count)
    assert counted == ["a", "b", "empty", "a", "empty"]
