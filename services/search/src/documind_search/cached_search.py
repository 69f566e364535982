"""Search answers from the result cache when the tenant's index has not changed since.

The key includes the tenant's index version (bumped on every change that can alter its
results), so an answer computed before a change is never looked up after it. Belt and braces:
a cached answer is also checked against the database like a fresh one (each hit's document
must still be completed at the generation it had), and any mismatch discards the entry and
recomputes, so even a missed bump cannot serve a stale hit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from documind.contracts import SearchQuery
from documind.index_versions import IndexVersions
from documind.logging import get_logger
from documind.metrics import Metrics

from documind_search.result_cache import ResultCache, cache_key


class Searcher(Protocol):
    def search(self, q: SearchQuery) -> dict: ...


LiveGenerations = Callable[[set], dict[str, int]]


@dataclass
class CachedSearch:
    inner: Searcher
    cache: ResultCache
    versions: IndexVersions
    live: LiveGenerations  # document ids -> generation, for completed documents only
    model: str
    metrics: Metrics | None = None

    def search(self, q: SearchQuery) -> dict:
        started = time.monotonic()
        key = self._key(q)
        if key is not None:
            entry = self._get(key)
            if entry is not None and self._still_live(entry):
                self._count(hit=True)
                result = dict(entry["result"])
                result["took_ms"] = round((time.monotonic() - started) * 1000, 2)
                result["cache_hit"] = True
                return result
        self._count(hit=False)
        result = self.inner.search(q)
        result["cache_hit"] = False
        if key is not None:
            self._put(key, result)
        return result

    def _key(self, q: SearchQuery) -> str | None:
        try:
            version = self.versions.current(q.tenant)
        except Exception as exc:  # noqa: BLE001 - without the version no key is safe: skip the cache
            get_logger("documind.search").warning("index version unavailable; not caching", error=str(exc))
            return None
        return cache_key(q.payload(), self.model, version)

    def _still_live(self, entry: dict[str, Any]) -> bool:
        generations: dict[str, int] = entry.get("generations") or {}
        live = self.live(set(generations))
        if all(gen is not None and live.get(doc_id) == gen for doc_id, gen in generations.items()):
            return True
        get_logger("documind.search").warning("cached answer outlived its documents; recomputing")
        return False

    def _get(self, key: str) -> dict[str, Any] | None:
        try:
            return self.cache.get(key)
        except Exception as exc:  # noqa: BLE001 - a cache outage degrades to uncached search
            get_logger("documind.search").warning("search cache read failed", error=str(exc))
            return None

    def _put(self, key: str, result: dict) -> None:
        # Each hit's document generation, read now, so a later hit can be re-checked.
        doc_ids = {h.get("document_id") for h in result.get("hits", [])}
        try:
            generations = self.live(doc_ids)
            if any(generations.get(d) is None for d in doc_ids):
                return  # a hit's document changed while we searched: this answer is not worth keeping
            self.cache.put(key, {"result": result, "generations": {d: generations[d] for d in doc_ids}})
        except Exception as exc:  # noqa: BLE001
            get_logger("documind.search").warning("search cache write failed", error=str(exc))

    def _count(self, hit: bool) -> None:
        if self.metrics is not None:
            (self.metrics.cache_hits if hit else self.metrics.cache_misses).inc()
