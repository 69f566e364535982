"""Search result caching: key derivation, the in-process LRU/TTL store, the cached search
wrapper (hit, miss, invalidation by version bump, the database re-check), and the index
version bumps made by the status store."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import Field

from documind.contracts import SearchQuery
from documind.db.engine import SessionFactory
from documind.index_versions import MemoryIndexVersions
from documind.metrics import build_metrics
from documind.status import StatusStore, Upload

from documind_search.cached_search import CachedSearch
from documind_search.result_cache import MemoryResultCache, cache_key


def q(**kw: Any) -> SearchQuery:
    return SearchQuery(**{"query": "layout parser", "tenant": "acme", "top_k": 5, **kw})


# ---- keys -------------------------------------------------------------------------------


def test_key_is_stable_and_order_independent() -> None:
    a = cache_key({"query": "x", "tenant": "t", "top_k": 3}, "m", 1)
    b = cache_key({"top_k": 3, "tenant": "t", "query": "x"}, "m", 1)
    assert a == b and len(a) == 64


@pytest.mark.parametrize(
    "change",
    [{"query": "layout parsers"}, {"tenant": "other"}, {"top_k": 6}, {"document_ids": ["d1"]}, {"model": "m2"}],
)
def test_every_query_field_is_in_the_key(change: dict[str, Any]) -> None:
    assert cache_key(q(**change).payload(), "m", 1) != cache_key(q().payload(), "m", 1)


def test_model_and_version_are_in_the_key() -> None:
    payload = q().payload()
    keys = {cache_key(payload, "m", 1), cache_key(payload, "m2", 1), cache_key(payload, "m", 2)}
    assert len(keys) == 3


def test_fields_added_to_the_contract_later_are_in_the_key() -> None:
    class SearchQueryV2(SearchQuery):  # e.g. the hybrid-search rewrite adds a mode
        mode: str = Field("dense")

    dense = SearchQueryV2(query="x", tenant="t").payload()
    hybrid = SearchQueryV2(query="x", tenant="t", mode="hybrid").payload()
    assert cache_key(dense, "m", 1) != cache_key(hybrid, "m", 1)


# ---- the in-process store ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_memory_cache_expires_after_ttl() -> None:
    clock = Clock()
    cache = MemoryResultCache(max_entries=10, ttl_s=30, timer=clock)
    cache.put("k", {"hits": [1]})
    clock.now = 29
    assert cache.get("k") == {"hits": [1]}
    clock.now = 31
    assert cache.get("k") is None


def test_memory_cache_evicts_least_recently_used() -> None:
    cache = MemoryResultCache(max_entries=2, ttl_s=60)
    cache.put("a", {"v": 1})
    cache.put("b", {"v": 2})
    assert cache.get("a") == {"v": 1}  # "a" is now the most recently used
    cache.put("c", {"v": 3})
    assert cache.get("b") is None
    assert cache.get("a") == {"v": 1} and cache.get("c") == {"v": 3}
    assert len(cache) == 2


def test_memory_cache_hands_out_copies() -> None:
    cache = MemoryResultCache(max_entries=2, ttl_s=60)
    cache.put("a", {"hits": [1]})
    cache.get("a")["hits"].append(2)  # type: ignore[index]
    assert cache.get("a") == {"hits": [1]}


# ---- the wrapper ------------------------------------------------------------------------------


class FakeSearch:
    """Stands in for the query service: answers from a list of (document_id, generation)."""

    def __init__(self, docs: dict[str, int]) -> None:
        self.docs = docs  # the "database": completed documents and their generations
        self.calls = 0

    def search(self, query: SearchQuery) -> dict:
        self.calls += 1
        hits = [{"document_id": d, "chunk_id": f"{d}-c0", "score": 1.0} for d in sorted(self.docs)]
        return {"query": query.query, "tenant": query.tenant, "took_ms": 5.0, "hits": hits[: query.top_k]}

    def live(self, ids: set) -> dict[str, int]:
        return {d: self.docs[d] for d in ids if d in self.docs}


@pytest.fixture
def parts() -> tuple[FakeSearch, MemoryIndexVersions, CachedSearch]:
    inner = FakeSearch({"d1": 1, "d2": 1})
    versions = MemoryIndexVersions()
    metrics = build_metrics(CollectorRegistry())
    cached = CachedSearch(inner, MemoryResultCache(100, 60), versions, inner.live, "m", metrics)
    return inner, versions, cached


def test_repeat_query_is_a_hit(parts) -> None:  # noqa: ANN001
    inner, _versions, cached = parts
    first = cached.search(q())
    second = cached.search(q())
    assert (first["cache_hit"], second["cache_hit"]) == (False, True)
    assert second["hits"] == first["hits"]
    assert inner.calls == 1
    assert cached.metrics.cache_hits._value.get() == 1
    assert cached.metrics.cache_misses._value.get() == 1


def test_a_different_query_is_a_miss(parts) -> None:  # noqa: ANN001
    inner, _versions, cached = parts
    cached.search(q())
    assert cached.search(q(top_k=1))["cache_hit"] is False
    assert inner.calls == 2


def test_a_version_bump_invalidates_only_that_tenant(parts) -> None:  # noqa: ANN001
    inner, versions, cached = parts
    cached.search(q())
    cached.search(q(tenant="other"))
    versions.bump("acme")
    assert cached.search(q())["cache_hit"] is False
    assert cached.search(q(tenant="other"))["cache_hit"] is True
    assert inner.calls == 3


def test_a_missed_bump_still_never_serves_a_deleted_document(parts) -> None:  # noqa: ANN001
    inner, _versions, cached = parts
    assert [h["document_id"] for h in cached.search(q())["hits"]] == ["d1", "d2"]
    del inner.docs["d1"]  # deleted, and nobody bumped the version
    again = cached.search(q())
    assert again["cache_hit"] is False
    assert [h["document_id"] for h in again["hits"]] == ["d2"]


def test_a_missed_bump_still_never_serves_an_old_generation(parts) -> None:  # noqa: ANN001
    inner, _versions, cached = parts
    cached.search(q())
    inner.docs["d2"] = 2  # re-processed and completed again: the cached hit is the old text
    assert cached.search(q())["cache_hit"] is False


def test_cache_outage_degrades_to_uncached_search(parts) -> None:  # noqa: ANN001
    inner, _versions, cached = parts

    class Broken:
        def get(self, key: str) -> None:
            raise ConnectionError("redis down")

        def put(self, key: str, value: dict) -> None:
            raise ConnectionError("redis down")

    cached.cache = Broken()
    assert cached.search(q())["hits"]
    assert inner.calls == 1


# ---- version bumps from status changes ------------------------------------------------------------


def upload(tenant: str = "acme", sha: str = "a" * 64) -> Upload:
    return Upload(tenant=tenant, source_name="r.txt", sha256=sha, size_bytes=1, storage_key=f"{tenant}/{sha}")


def test_status_changes_that_alter_results_bump_the_tenant(sessions: SessionFactory) -> None:
    versions = MemoryIndexVersions()
    store = StatusStore(sessions, versions)
    reg = store.register(upload())
    assert versions.current("acme") == 0  # a new, unprocessed document changes no results
    store.complete(reg.document_id, reg.generation)
    assert versions.current("acme") == 1
    again = store.register(upload(), reprocess=True)
    assert versions.current("acme") == 2
    store.fail(again.document_id, "bad", generation=again.generation)
    assert versions.current("acme") == 3
    store.mark_deleted(reg.document_id)
    assert versions.current("acme") == 4
    assert versions.current("other") == 0

