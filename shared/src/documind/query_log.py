"""The query log: one row per search query (written by the search service), pruned after the
retention period (by the maintenance service). Analytics read it (documind.analytics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete

from documind.db.engine import SessionFactory, transaction
from documind.db.models import QueryLogEntry, utcnow

TOP_IDS = 10  # hits kept per row: enough to see what a query found, small enough to store
# Payload fields that are not filters; every other non-empty field (document_ids, and whatever
# later contracts add) is recorded as a filter without this module knowing it.
_NOT_FILTERS = frozenset({"v", "query", "tenant", "top_k", "model", "mode"})


@dataclass(frozen=True)
class QueryRecord:
    tenant: str
    query: str
    mode: str
    filters: dict[str, Any]
    top_k: int
    latency_ms: float
    result_count: int
    top_ids: list[dict[str, Any]]
    cache_hit: bool


def record_for(payload: dict[str, Any], result: dict[str, Any], latency_ms: float) -> QueryRecord:
    """A log row from a SearchQuery payload and the answer given to it."""
    hits = result.get("hits") or []
    return QueryRecord(
        tenant=payload["tenant"],
        query=payload["query"],
        mode=str(payload.get("mode") or "dense"),
        filters={k: v for k, v in payload.items() if k not in _NOT_FILTERS and v not in (None, [], {})},
        top_k=int(payload.get("top_k") or 0),
        latency_ms=round(latency_ms, 3),
        result_count=len(hits),
        top_ids=[{"document_id": h.get("document_id"), "chunk_id": h.get("chunk_id")} for h in hits[:TOP_IDS]],
        cache_hit=bool(result.get("cache_hit")),
    )


class QueryLog:
    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    def add(self, rec: QueryRecord) -> None:
        with transaction(self.sessions) as s:
            s.add(
                QueryLogEntry(
                    tenant=rec.tenant, query=rec.query, mode=rec.mode, filters=rec.filters, top_k=rec.top_k,
                    latency_ms=rec.latency_ms, result_count=rec.result_count, top_ids=rec.top_ids,
                    cache_hit=rec.cache_hit,
                )
            )

    def prune(self, retention: timedelta) -> int:
        """Delete rows older than ``retention``; return how many went."""
        cutoff = utcnow() - retention
        with transaction(self.sessions) as s:
            result = s.execute(delete(QueryLogEntry).where(QueryLogEntry.created_at < cutoff))
            return int(result.rowcount or 0)
