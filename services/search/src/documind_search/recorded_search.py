"""Every answered query is written to the query log and counted in the metrics. Logging is
best effort: a failed insert is a warning, never a failed query."""

from __future__ import annotations

import time
from dataclasses import dataclass

from documind.contracts import SearchQuery
from documind.logging import get_logger
from documind.metrics import Metrics
from documind.query_log import QueryLog, record_for

from documind_search.cached_search import Searcher


@dataclass
class RecordedSearch:
    inner: Searcher
    log: QueryLog
    metrics: Metrics | None = None

    def search(self, q: SearchQuery) -> dict:
        started = time.monotonic()
        result = self.inner.search(q)
        elapsed = time.monotonic() - started
        hit = bool(result.get("cache_hit"))
        if self.metrics is not None:
            self.metrics.query_seconds.labels("hit" if hit else "miss").observe(elapsed)
            self.metrics.queries.labels("hit" if result.get("hits") else "zero").inc()
        try:
            self.log.add(record_for(q.payload(), result, elapsed * 1000))
        except Exception as exc:  # noqa: BLE001 - the person waiting gets the answer regardless
            get_logger("documind.search").warning("query log write failed", error=f"{type(exc).__name__}: {exc}")
        return result
