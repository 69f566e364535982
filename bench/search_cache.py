"""Search result cache: query latency of a cache hit vs a miss through the distributed stack.

A stack of its own (ingest, embed, search workers; Redis db 6) ingests ``cache_docs`` SciFact
chunk-sized documents. Each of ``cache_queries`` distinct queries (other SciFact passages'
first sentence) is then sent twice from this process through the bus, as ``documind search``
sends it: the first call is a miss (encode + Qdrant + database check, then stored in Redis),
the second a hit (Redis + the database re-check). Round trips and the search worker's own
``took_ms`` are reported as p50 / p99 per kind, and hit / miss as the ratio (lower = the
cache saves more). The answers of both calls must be identical, and flagged miss then hit."""

from __future__ import annotations

import time
from typing import Any

from bench.common import REDIS_DBS, Context, Stack, chunk_texts, first_sentence, log, ratio, scratch_dir, summary


TENANT = "cachebench"


def measure(ctx: Context) -> dict[str, Any]:
    from documind.contracts import SearchQuery

    p = ctx.params
    n_docs, n_queries = p["cache_docs"], p["cache_queries"]
    folder = scratch_dir("cache-docs")
    for i, text in enumerate(chunk_texts(n_docs, seed=3)):
        (folder / f"doc-{i:04d}.txt").write_text(text + "\n")
    queries = [first_sentence(t) for t in chunk_texts(n_docs + n_queries, seed=19)[n_docs:]]
    queries = list(dict.fromkeys(queries))  # distinct: a repeated text would be a hit as its "miss"

    stack = Stack(label="search-cache", redis_db=REDIS_DBS["search_cache"])
    try:
        stack.start({"ingest": (1, 2), "embed": (1, 2), "search": (1, 2)})
        t = time.perf_counter()
        stack.cli("ingest", str(folder), "--tenant", TENANT, "--wait", "--json", timeout=ctx.timeout(300))
        ingest_s = time.perf_counter() - t
        completed = stack.sql("SELECT count(*) FROM documents WHERE tenant = :t AND status = 'completed'", t=TENANT)[0][0]
        log(f"search_cache: {completed}/{n_docs} documents searchable in {ingest_s:.1f} s")
        rt = stack.runtime()

        def ask(text: str) -> tuple[dict, float]:
            q = SearchQuery(query=text, tenant=TENANT, top_k=10, model=rt.settings.embedding_model)
            started = time.perf_counter()
            res = rt.bus.call(q, timeout_s=120)
            return res, time.perf_counter() - started

        ask("warm-up: load the query model and open the collection")  # not timed
        miss_s, hit_s, miss_ms, hit_ms = [], [], [], []
        mismatched = wrong_flags = 0
        for i, text in enumerate(queries):
            if ctx.remaining() < 10:
                log(f"search_cache: stopped after {i} queries for the run's time budget")
                break
            first, d1 = ask(text)
            second, d2 = ask(text)
            miss_s.append(d1)
            hit_s.append(d2)
            miss_ms.append(first.get("took_ms"))
            hit_ms.append(second.get("took_ms"))
            mismatched += first["hits"] != second["hits"]
            wrong_flags += (first.get("cache_hit"), second.get("cache_hit")) != (False, True)
        miss, hit = summary(miss_s, 5), summary(hit_s, 5)
        out: dict[str, Any] = {
            "status": "ok" if len(miss_s) == len(queries) else "partial",
            "documents": completed,
            "queries": len(miss_s),
            "ingest_s": round(ingest_s, 1),
            "round_trip_s": {"miss": miss, "hit": hit},
            "server_ms": {"miss": summary(miss_ms, 2), "hit": summary(hit_ms, 2)},
            "ratio_hit_to_miss_p50": ratio(hit.get("p50"), miss.get("p50")),
            "ratio_hit_to_miss_p99": ratio(hit.get("p99"), miss.get("p99")),
            "answers_differing_between_miss_and_hit": mismatched,
            "calls_with_wrong_cache_flag": wrong_flags,
            "notes": [
                "Round trip = this process -> Redis queue -> search worker -> Redis results -> this process; "
                "the queue hops cost the same for a hit and a miss, so the ratio understates the saving "
                "inside the worker (compare server_ms).",
                "A hit still re-checks its documents in the database (one indexed query), so a stale "
                "answer is never served.",
            ],
        }
        if mismatched or wrong_flags:
            out["status"] = "error"
            out["error"] = f"{mismatched} answers differed between miss and hit, {wrong_flags} wrong cache flags"
        log(f"search_cache: miss p50 {miss.get('p50')} s, hit p50 {hit.get('p50')} s, ratio {out['ratio_hit_to_miss_p50']}")
        return out
    finally:
        stack.stop()
