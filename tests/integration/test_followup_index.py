"""The watchdog's follow-up lookup on a large Postgres table reads the partial indexes of
migration 0015 (``ix_documents_followup_classify``, ``ix_documents_followup_enrich``), not
every completed document: with 60,000 completed documents of which ten lack a follow-up, the
plan of each query names its index and the queries find exactly those ten (every document has
a chunk with enrichment; the enriched ones have their record). The same queries
with the indexes dropped (in a rolled-back transaction) are the baseline the timings compare
with (printed, ``-s``)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from documind.db.models import utcnow
from documind_maintenance.followup import unclassified_query, unenriched_query

from tests.integration.harness import migrated_database

pytestmark = pytest.mark.integration

N = 60_000


@pytest.fixture
def pg() -> Iterator:  # noqa: ANN401
    with migrated_database() as url:
        engine = create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


FILL = """
INSERT INTO documents (id, tenant, source_name, sha256, size_bytes, storage_key, status, generation, metadata,
                       lane, created_at, updated_at, completed_at, enriched_generation)
SELECT 'doc-' || lpad(i::text, 8, '0'), 'acme', 'f' || i, md5(i::text) || md5('x' || i), 10, 'k' || i, 'completed',
       1, (CASE WHEN i % 6000 = 1 THEN '{}' ELSE '{"classification": {"method": "zero-shot"}}' END)::json,
       'interactive', now(), now(), (now() AT TIME ZONE 'utc') - interval '2 days' + i * interval '1 second',
       CASE WHEN i % 6000 = 2 THEN NULL ELSE 1 END
FROM generate_series(1, :n) AS i;
INSERT INTO chunks (id, document_id, idx, generation, text, token_count, element_types)
SELECT 'c-' || d.id, d.id, 0, 1, 'text', 1, '[]'::json FROM documents d;
INSERT INTO chunk_enrichment (chunk_id, document_id, generation, idx, sentiment, sentiment_label, quality,
                              confidence, reasons, enriched_at)
SELECT 'c-' || d.id, d.id, 1, 0, 0, 'neutral', '{}'::json, 0.5, '[]'::json, now()
FROM documents d;
INSERT INTO document_enrichment (document_id, generation, sentiment, sentiment_label, quality, confidence,
                                 low_confidence_chunks, entity_counts, enriched_at)
SELECT d.id, 1, 0, 'neutral', '{}'::json, 0.5, 0, '{}'::json, now() FROM documents d
WHERE d.enriched_generation IS NOT NULL;
INSERT INTO taxonomy_labels (tenant, name, description, created_at) VALUES ('acme', 'x', 'x', now());
ANALYZE;
"""


def _explain(conn, query) -> tuple[str, float]:  # noqa: ANN001
    compiled = query.compile(dialect=conn.dialect)
    plan = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT TEXT) " + str(compiled), compiled.params).scalars().all()
    lines = "\n".join(plan)
    return lines, float(re.search(r"Execution Time: ([\d.]+) ms", lines).group(1))


def test_followup_queries_read_their_partial_indexes(pg) -> None:  # noqa: ANN001
    with pg.begin() as conn:
        for statement in FILL.split(";"):
            if statement.strip():
                conn.execute(text(statement), {"n": N})
    cutoff = utcnow() - timedelta(minutes=10)
    queries = {
        "ix_documents_followup_classify": unclassified_query("postgresql", cutoff, 1000),
        "ix_documents_followup_enrich": unenriched_query(cutoff, 1000),
    }
    timings = {}
    with pg.connect() as conn:
        for index, query in queries.items():
            found = conn.execute(query).all()
            assert len(found) == N // 6000, (index, found)
            plan, ms = _explain(conn, query)
            assert index in plan, plan
            assert "Seq Scan on documents" not in plan, plan
            timings[index] = ms
        conn.rollback()  # end the autobegun read transaction
        # The baseline: the same query without the indexes (dropped in a transaction rolled back).
        with conn.begin() as tx:
            for index in queries:
                conn.execute(text(f"DROP INDEX {index}"))
            for index, query in queries.items():
                plan, ms = _explain(conn, query)
                assert index not in plan
                print(f"{index}: {timings[index]:.2f} ms with the index, {ms:.2f} ms without "
                      f"({ms / max(timings[index], 0.001):.0f}x) on {N} completed documents")
            tx.rollback()
