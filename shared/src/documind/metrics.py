"""Prometheus metrics, built on demand into a given registry (no import-time globals).

In distributed mode the worker processes write to ``PROMETHEUS_MULTIPROC_DIR`` and the
exposition server (Dramatiq's Prometheus middleware) aggregates them."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

_QUERY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


@dataclass(frozen=True)
class Metrics:
    stage_seconds: Histogram
    time_to_searchable_seconds: Histogram
    documents_finished: Counter
    chunks_processed: Counter
    deliveries: Counter
    dead_letters: Counter
    query_seconds: Histogram
    queries: Counter
    cache_hits: Counter
    cache_misses: Counter
    watchdog_documents: Counter
    watchdog_classifiers: Counter


def build_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    kw = {"registry": registry} if registry is not None else {}
    return Metrics(
        stage_seconds=Histogram(
            "documind_stage_seconds", "Time spent in one stage of one document",
            ["service", "stage"], buckets=_LATENCY_BUCKETS, **kw,
        ),
        time_to_searchable_seconds=Histogram(
            "documind_time_to_searchable_seconds", "Upload to completed (searchable)",
            buckets=_LATENCY_BUCKETS, **kw,
        ),
        documents_finished=Counter(
            "documind_documents_finished_total", "Documents reaching a final status", ["status"], **kw
        ),
        chunks_processed=Counter(
            "documind_chunks_processed_total", "Chunks handled per stage", ["stage"], **kw
        ),
        deliveries=Counter(
            "documind_message_deliveries_total", "Message receipts counted by DocuMind", ["actor"], **kw
        ),
        dead_letters=Counter(
            "documind_dead_letters_total", "Messages moved to the dead-letter table", ["actor"], **kw
        ),
        query_seconds=Histogram(
            "documind_search_query_seconds", "Search query latency in the search service",
            ["cache"], buckets=_QUERY_BUCKETS, **kw,
        ),
        queries=Counter(
            "documind_search_queries_total", "Search queries by result: hit (some results) or zero",
            ["result"], **kw,
        ),
        cache_hits=Counter("documind_search_cache_hits_total", "Search answers served from the cache", **kw),
        cache_misses=Counter("documind_search_cache_misses_total", "Search answers computed (cache miss)", **kw),
        watchdog_documents=Counter(
            "documind_watchdog_documents_total",
            "Suspect documents the watchdog handled, by outcome: redriven, failed, queued "
            "(left alone: a message for it still waits in the broker or runs) or purged (a lost "
            "deletion finished)",
            ["outcome"], **kw,
        ),
        watchdog_classifiers=Counter(
            "documind_watchdog_classifier_retrains_total",
            "Supervised label classifiers of a model that is no longer active, by outcome: resent "
            "(their lost RetrainClassifier sent again) or queued (left alone: one still waits or runs)",
            ["outcome"], **kw,
        ),
    )
