"""The query log and search analytics on a migrated SQLite database: what a row records,
retention pruning, the analytics figures over a seeded log, and that a failed log write
never fails the query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from documind.analytics import parse_window, percentile, summarize
from documind.contracts import SearchQuery
from documind.db.engine import SessionFactory, transaction
from documind.db.models import QueryLogEntry, utcnow
from documind.metrics import build_metrics
from documind.query_log import QueryLog, record_for

from documind_search.recorded_search import RecordedSearch


def seed(sessions: SessionFactory, rows: list[dict]) -> None:
    now = utcnow()
    with transaction(sessions) as s:
        for r in rows:
            s.add(
                QueryLogEntry(
                    tenant=r.get("tenant", "acme"), query=r["query"], mode="dense", filters={}, top_k=10,
                    latency_ms=r.get("latency_ms", 10.0), result_count=r.get("results", 3),
                    top_ids=[], cache_hit=r.get("cache_hit", False),
                    created_at=now - r.get("age", timedelta(minutes=1)),
                )
            )


def count_rows(sessions: SessionFactory) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).select_from(QueryLogEntry)))


# ---- rows -----------------------------------------------------------------------------------


def test_record_keeps_filters_top_ids_and_cache_flag() -> None:
    payload = SearchQuery(query="q", tenant="acme", top_k=3, document_ids=["d1"], model="m").payload()
    hits = [{"document_id": f"d{i}", "chunk_id": f"c{i}", "text": "..."} for i in range(12)]
    rec = record_for(payload, {"hits": hits, "cache_hit": True}, 12.3456)
    assert (rec.tenant, rec.query, rec.mode, rec.top_k) == ("acme", "q", "dense", 3)
    assert rec.filters == {"document_ids": ["d1"]}
    assert rec.result_count == 12 and len(rec.top_ids) == 10
    assert rec.top_ids[0] == {"document_id": "d0", "chunk_id": "c0"}
    assert rec.cache_hit is True and rec.latency_ms == 12.346


def test_record_picks_up_new_contract_fields_as_filters() -> None:
    payload = {"v": 1, "query": "q", "tenant": "t", "top_k": 5, "mode": "hybrid", "source_types": ["pdf"], "model": None}
    rec = record_for(payload, {"hits": []}, 1.0)
    assert rec.mode == "hybrid" and rec.filters == {"source_types": ["pdf"]} and rec.result_count == 0


def test_prune_deletes_only_rows_past_retention(sessions: SessionFactory) -> None:
    seed(sessions, [{"query": "old", "age": timedelta(days=31)}, {"query": "new", "age": timedelta(days=29)}])
    assert QueryLog(sessions).prune(timedelta(days=30)) == 1
    with sessions() as s:
        assert list(s.scalars(select(QueryLogEntry.query))) == ["new"]


# ---- analytics ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("90s", timedelta(seconds=90))])
def test_parse_window(text: str, expected: timedelta) -> None:
    assert parse_window(text) == expected


@pytest.mark.parametrize("text", ["", "7", "d", "0d", "-1h", "1w", "1.5h"])
def test_parse_window_refuses_bad_input(text: str) -> None:
    with pytest.raises(ValueError, match="bad window"):
        parse_window(text)


def test_percentile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50.0, 95.0, 99.0)
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None


def test_summary_over_a_seeded_log(sessions: SessionFactory) -> None:
    rows = (
        [{"query": "Layout Parser", "latency_ms": 1.0, "cache_hit": True}] * 3
        + [{"query": "  layout parser ", "latency_ms": 2.0}]
        + [{"query": "nothing here", "results": 0, "latency_ms": 100.0, "tenant": "beta"}] * 2
        + [{"query": "ocr", "latency_ms": float(v)} for v in range(10, 14)]
        + [{"query": "ancient", "age": timedelta(days=8), "latency_ms": 5000.0}]  # outside the window
    )
    seed(sessions, rows)
    report = summarize(sessions, timedelta(days=7))
    assert report["queries"] == 10
    assert report["zero_result_queries"] == 2
    assert report["cache_hit_rate"] == 0.3
    assert report["top_queries"][:3] == [
        {"query": "layout parser", "count": 4}, {"query": "ocr", "count": 4}, {"query": "nothing here", "count": 2},
    ]
    assert report["zero_result_top"] == [{"query": "nothing here", "count": 2}]
    assert report["per_tenant"] == [{"tenant": "acme", "count": 8}, {"tenant": "beta", "count": 2}]
    # latencies sorted: 1,1,1,2,10,11,12,13,100,100 -> nearest rank
    assert report["latency_ms"] == {"p50": 10.0, "p95": 100.0, "p99": 100.0, "sample": 10}


def test_summary_for_one_tenant_and_an_empty_window(sessions: SessionFactory) -> None:
    seed(sessions, [{"query": "a", "tenant": "beta", "results": 0}, {"query": "b"}])
    beta = summarize(sessions, timedelta(hours=1), tenant="beta")
    assert (beta["queries"], beta["zero_result_queries"], beta["per_tenant"]) == (1, 1, [{"tenant": "beta", "count": 1}])
    empty = summarize(sessions, timedelta(hours=1), tenant="nobody")
    assert empty["queries"] == 0 and empty["cache_hit_rate"] is None and empty["latency_ms"]["p50"] is None


# ---- the recorder -----------------------------------------------------------------------------


class Answer:
    def __init__(self, hits: list[dict]) -> None:
        self.hits = hits

    def search(self, q: SearchQuery) -> dict:
        return {"hits": self.hits, "cache_hit": False}


def test_every_query_is_recorded_and_counted(sessions: SessionFactory) -> None:
    metrics = build_metrics(CollectorRegistry())
    recorded = RecordedSearch(Answer([{"document_id": "d", "chunk_id": "c"}]), QueryLog(sessions), metrics)
    recorded.search(SearchQuery(query="x", tenant="acme"))
    recorded.inner = Answer([])
    recorded.search(SearchQuery(query="y", tenant="acme"))
    assert count_rows(sessions) == 2
    assert metrics.queries.labels("hit")._value.get() == 1
    assert metrics.queries.labels("zero")._value.get() == 1
    assert metrics.query_seconds.labels("miss")._sum.get() > 0


def test_a_failed_log_write_never_fails_the_query() -> None:
    class BrokenLog:
        def add(self, rec: object) -> None:
            raise RuntimeError("database is gone")

    recorded = RecordedSearch(Answer([{"document_id": "d", "chunk_id": "c"}]), BrokenLog())  # type: ignore[arg-type]
    assert recorded.search(SearchQuery(query="x", tenant="acme"))["hits"]


def test_retention_actor_uses_the_setting_and_zero_keeps_everything(sessions: SessionFactory) -> None:
    from types import SimpleNamespace

    from documind.contracts import PruneQueryLog
    from documind_maintenance.retention import QueryLogRetention

    seed(sessions, [{"query": "old", "age": timedelta(days=3)}, {"query": "new"}])
    keep_all = QueryLogRetention(SimpleNamespace(sessions=sessions, settings=SimpleNamespace(query_log_retention_days=0)))
    assert keep_all.run(PruneQueryLog()) == {"pruned": 0, "retention_days": 0}
    assert count_rows(sessions) == 2
    two_days = QueryLogRetention(SimpleNamespace(sessions=sessions, settings=SimpleNamespace(query_log_retention_days=2)))
    assert two_days.run(PruneQueryLog()) == {"pruned": 1, "retention_days": 2}
    assert keep_all.run(PruneQueryLog(retention_days=1)) == {"pruned": 0, "retention_days": 1}
    assert count_rows(sessions) == 1
