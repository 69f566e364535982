"""Search result cache, query log and analytics through the real stacks.

Distributed: every ``documind search`` is a separate process talking to one search worker, so
a repeated query must be answered from the Redis cache, and a delete / re-ingest in between
must never let the old answer through. Embedded: the cache lives in the process, so the
hit/invalidation test runs one embedded runtime in this process."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

TEXT = (
    "Glaciers carve U-shaped valleys as they advance; when they retreat they leave moraines "
    "of unsorted rock and till, and meltwater lakes dammed behind them."
)
QUERY = "what do retreating glaciers leave behind"


def search(stack, query: str, tenant: str, top_k: int = 5) -> dict:  # noqa: ANN001
    return stack.cli("search", query, "--top-k", str(top_k), "--tenant", tenant, "--json").json()


def doc_ids(result: dict) -> list[str]:
    return [h["document_id"] for h in result["hits"]]


def settled(stack, doc: dict, tenant: str) -> None:  # noqa: ANN001
    """Until the work after the document became searchable is done: classified, enriched, and
    the points of its chunks with entities rebuilt (``indexed_at`` after the enrichment). Each
    of these changes the tenant's index and so voids its cached answers, once, rightly: the
    assertions about hits and misses below are about the queries, not about that race."""
    doc_id, gen = doc["id"], doc["generation"]
    pending = (
        "SELECT count(*) FROM chunks c JOIN chunk_enrichment e ON e.chunk_id = c.id "
        f"WHERE c.document_id = '{doc_id}' AND c.generation = {gen} AND c.indexed_at <= e.enriched_at "
        "AND EXISTS (SELECT 1 FROM chunk_entities x WHERE x.chunk_id = c.id)"
    )
    deadline = time.monotonic() + 120
    while True:
        data = stack.cli("show", doc_id, "--json", "--tenant", tenant).json()
        if data["enriched"] and data["classification"] is not None and stack.sql(pending) == [(0,)]:
            return
        assert time.monotonic() < deadline, f"{doc_id}: follow-ups not done: {data}\n{stack.worker_logs()}"
        time.sleep(0.5)


def test_cache_hits_on_repeat_and_never_serves_stale_results(stack, tmp_path: Path) -> None:  # noqa: ANN001
    tenant = "cache-it"
    path = tmp_path / "glaciers.txt"
    path.write_text(TEXT)
    (doc,) = stack.ingest(path, extra=("--tenant", tenant))
    assert doc["status"] == "completed"
    settled(stack, doc, tenant)
    cached = stack.mode == "distributed"  # embedded: each CLI call is a new process, a new cache

    first = search(stack, QUERY, tenant)
    assert doc_ids(first)[:1] == [doc["id"]] and first["cache_hit"] is False
    second = search(stack, QUERY, tenant)
    assert second["cache_hit"] is cached
    assert second["hits"] == first["hits"]
    assert search(stack, QUERY, tenant, top_k=4)["cache_hit"] is False  # another query, another key

    stack.cli("delete", doc["id"], "--tenant", tenant)
    gone = search(stack, QUERY, tenant)
    assert doc["id"] not in doc_ids(gone) and gone["cache_hit"] is False

    (back,) = stack.ingest(path, extra=("--tenant", tenant))  # same bytes: generation 2
    assert back["generation"] == 2 and back["status"] == "completed"
    settled(stack, back, tenant)
    again = search(stack, QUERY, tenant)
    assert doc_ids(again)[:1] == [doc["id"]] and again["cache_hit"] is False
    assert search(stack, QUERY, tenant)["cache_hit"] is cached

    (redone,) = stack.ingest(path, extra=("--tenant", tenant, "--reprocess"))
    assert redone["generation"] == 3 and redone["status"] == "completed"
    settled(stack, redone, tenant)
    fresh = search(stack, QUERY, tenant)
    assert fresh["cache_hit"] is False and doc_ids(fresh)[:1] == [doc["id"]]
    assert search(stack, QUERY, tenant)["cache_hit"] is cached

    # One query_log row per query, in order, with what was answered.
    rows = stack.sql(
        "SELECT query, mode, top_k, result_count, cache_hit, top_ids, latency_ms FROM query_log "
        f"WHERE tenant = '{tenant}' ORDER BY id"
    )
    assert [bool(r[4]) for r in rows] == [False, cached, False, False, False, cached, False, cached]
    assert [r[2] for r in rows] == [5, 5, 4, 5, 5, 5, 5, 5]
    assert all(r[0] == QUERY and r[1] == "dense" and r[6] > 0 for r in rows)
    top_ids = rows[0][5] if isinstance(rows[0][5], list) else json.loads(rows[0][5])
    assert top_ids[0] == {"document_id": doc["id"], "chunk_id": first["hits"][0]["chunk_id"]}
    assert rows[3][3] == len(gone["hits"])

    report = stack.cli("analytics", "--since", "1h", "--tenant", tenant, "--json").json()
    assert report["queries"] == 8
    assert report["cache_hit_rate"] == round((3 if cached else 0) / 8, 4)
    assert report["top_queries"][0] == {"query": QUERY, "count": 8}
    assert report["per_tenant"] == [{"tenant": tenant, "count": 8}]
    assert report["latency_ms"]["sample"] == 8 and report["latency_ms"]["p50"] > 0


def test_zero_result_queries_are_reported(stack) -> None:  # noqa: ANN001
    tenant = "empty-tenant-it"
    assert search(stack, "anything at all", tenant)["hits"] == []
    report = stack.cli("analytics", "--since", "30m", "--tenant", tenant, "--json").json()
    assert report["zero_result_queries"] == 1
    assert report["zero_result_top"] == [{"query": "anything at all", "count": 1}]
    text = stack.cli("analytics", "--since", "30m").stdout
    assert "zero-result queries" in text and "anything at all" in text


def test_analytics_refuses_a_bad_window(stack) -> None:  # noqa: ANN001
    res = stack.cli("analytics", "--since", "7 weeks", check=False)
    assert res.code == 2 and "bad window" in res.stderr


def test_embedded_cache_in_one_process(tmp_path: Path, clean_env) -> None:  # noqa: ANN001
    """An embedded process keeps its cache: hit on repeat, invalidated by delete and re-ingest."""
    from documind.contracts import DeleteDocument, ProcessDocument, SearchQuery
    from documind.embedded import EmbeddedWorkers
    from documind.runtime import build_runtime
    from documind.settings import load_settings
    from documind.status import Upload
    from documind.storage import content_key, sha256_of

    rt = build_runtime(load_settings(mode="embedded", data_dir=tmp_path / "data"), configure_logs=False)
    workers = EmbeddedWorkers(rt)
    workers.start()
    try:
        path = tmp_path / "glaciers.txt"
        path.write_text(TEXT)

        def ingest() -> str:
            digest = sha256_of(path)
            key = content_key("t", digest)
            rt.storage.put_file(key, path)
            reg = rt.status.register(Upload("t", path.name, digest, path.stat().st_size, key))
            rt.bus.send(ProcessDocument(document_id=reg.document_id, generation=reg.generation))
            deadline = time.monotonic() + 300
            while not rt.status.get(reg.document_id).status.is_final:
                assert time.monotonic() < deadline, "document did not finish"
                time.sleep(0.2)
            # As `documind ingest` does: the work that follows completion (enrichment, payload
            # refresh) bumps the tenant's cache version, so a query before it ends may miss.
            assert workers.drain(300), "follow-up work did not finish"
            return reg.document_id

        def ask() -> dict:
            return rt.bus.call(SearchQuery(query=QUERY, tenant="t", top_k=3), timeout_s=120)

        doc_id = ingest()
        assert ask()["cache_hit"] is False
        hit = ask()
        assert hit["cache_hit"] is True and doc_ids(hit)[:1] == [doc_id]
        rt.status.mark_deleted(doc_id)
        rt.bus.call(DeleteDocument(document_id=doc_id), timeout_s=120)
        gone = ask()
        assert gone["cache_hit"] is False and doc_id not in doc_ids(gone)
        assert ingest() == doc_id
        back = ask()
        assert back["cache_hit"] is False and doc_ids(back)[:1] == [doc_id]
        assert ask()["cache_hit"] is True
    finally:
        workers.stop()
        rt.close()


def test_redis_versions_count_per_tenant() -> None:
    import uuid

    import redis

    from documind.index_versions import RedisIndexVersions

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"documind-it-{uuid.uuid4().hex}:index-version:"
    versions = RedisIndexVersions(client, prefix)
    try:
        assert versions.current("acme") == 0
        assert versions.bump("acme") == 1 and versions.bump("acme") == 2
        assert versions.current("acme") == 2 and versions.current("other") == 0
    finally:
        client.delete(prefix + "acme")
        client.close()
