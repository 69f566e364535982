"""Search quality and latency on SciFact (BEIR format), through the running stack.

Queries go from this one process through the bus, as the CLI sends them
(``documind.contracts.SearchQuery`` with ``runtime.bus.call``: Redis -> the search worker's
``search.query`` actor -> result backend), so the model is loaded once in the search worker,
not once per query as ``documind search`` (a new process per call) would. Hits are chunks;
they are mapped to SciFact ids through ``source_name`` (``<_id>.txt``) and a document's rank
is that of its best chunk.

Metrics, the BEIR / pytrec_eval definitions over the test qrels only: nDCG@10 with graded
relevance (gain = qrel grade) and log2 discount, ideal DCG from the qrels; Recall@100 =
judged-relevant documents in the top 100 / judged-relevant documents. Baselines: the same
metrics from the plain pipeline of ``bench.baseline`` over the same documents (run by the
SciFact ingest measurement), and the published MTEB figures for the full corpus.

Dense, keyword (BM25) and hybrid are each measured; keyword and hybrid run through
``SearchBatch`` messages (what ``documind search --queries`` sends).

Latency: cold = the first query after the search worker (re)starts (the worker loads the model
and opens Qdrant at start, so "worker ready" includes that); warm = round trips of top-10
queries after that; p50 / p99."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from bench.common import Context, Stack, log, ratio, rnd, summary

PUBLISHED = {
    "all-MiniLM-L6-v2 (MTEB, dense)": {"ndcg@10": 0.64508, "recall@100": 0.925},
    "BM25 (MTEB bm25s)": {"ndcg@10": 0.68736, "recall@100": 0.91267},
    "BM25 (Anserini flat)": {"ndcg@10": 0.6789, "recall@100": 0.9253},
}


def ndcg_at(ranked: list[str], rels: dict[str, int], k: int = 10) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in rels.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], rels: dict[str, int], k: int = 100) -> float:
    relevant = {d for d, g in rels.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def evaluate(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Mean over every query in the qrels (a query with no result scores 0)."""
    nd = [ndcg_at(run.get(q, []), rels) for q, rels in qrels.items()]
    rc = [recall_at(run.get(q, []), rels) for q, rels in qrels.items()]
    return {"ndcg@10": round(sum(nd) / len(nd), 5), "recall@100": round(sum(rc) / len(rc), 5), "queries": len(nd)}


def _ranked(hits: list[dict]) -> list[str]:
    seen: dict[str, None] = {}
    for h in hits:
        seen.setdefault(Path(h.get("source_name") or "").stem, None)
    return list(seen)


def _query(rt: Any, text: str, top_k: int, tenant: str, mode: str = "dense") -> tuple[dict, float]:
    from documind.contracts import SearchQuery

    q = SearchQuery(query=text, tenant=tenant, top_k=top_k, mode=mode, model=rt.settings.embedding_model)
    t = time.perf_counter()
    res = rt.bus.call(q, timeout_s=180)
    return res, time.perf_counter() - t


BATCH = 10  # queries per SearchBatch message (300 chunk hits each, with text: a few MB per result)


def _run_batched(ctx: Context, rt: Any, queries: dict[str, str], top_k: int, mode: str) -> tuple[dict[str, list[str]], float, bool]:
    """Every query in ``mode`` through ``SearchBatch`` messages (what ``documind search
    --queries`` sends): document-level ranking of each; seconds; whether it finished."""
    from documind.contracts import BatchQuery, SearchBatch

    items = [BatchQuery(id=qid, text=text) for qid, text in queries.items()]
    run: dict[str, list[str]] = {}
    t = time.perf_counter()
    for start in range(0, len(items), BATCH):
        if ctx.remaining() < 15:
            return run, time.perf_counter() - t, False
        msg = SearchBatch(queries=items[start : start + BATCH], tenant="scifact", top_k=top_k, mode=mode,
                          model=rt.settings.embedding_model)
        for r in rt.bus.call(msg, timeout_s=600)["results"]:
            run[r["id"]] = _ranked(r["hits"])
    return run, time.perf_counter() - t, True


def measure(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    out: dict[str, Any] = {"status": "ok"}
    sf = ctx.shared.get("scifact")
    if not sf or not isinstance(sf.get("stack"), Stack) or not sf["stack"].services:
        from bench import ingest

        log("search: no SciFact stack from this run; running the SciFact ingest first")
        out["ingest"] = {"status": "ran for search"}
        ingest.measure_scifact(ctx)
        sf = ctx.shared["scifact"]
    stack: Stack = sf["stack"]
    queries, qrels, latency_ids = sf["queries"], sf["qrels"], sf["latency_ids"]
    out["documents"] = sf["documents"]
    out["full_corpus"] = sf["documents"] >= 5183

    log("search: restarting the search worker for a cold first query")
    stack.stop_service("search")
    t = time.perf_counter()
    stack.start_service("search", 1, 2)
    restart_s = time.perf_counter() - t
    rt = stack.runtime()
    first = next(iter(queries.values()))
    res, cold = _query(rt, first, 10, "scifact")
    out["cold"] = {"worker_ready_s": rnd(restart_s, 2), "first_query_s": rnd(cold, 3),
                   "first_query_server_ms": res.get("took_ms")}
    log(f"search: cold first query {cold:.2f} s (worker ready after {restart_s:.1f} s)")

    run: dict[str, list[str]] = {}
    eval_lat, server_ms = [], []
    for i, (qid, text) in enumerate(queries.items()):
        if ctx.remaining() < 15:
            out["status"] = "partial"
            out["error"] = f"stopped after {i} of {len(queries)} queries for the run's time budget"
            qrels = {q: qrels[q] for q in run}
            break
        res, dt = _query(rt, text, p["search_top_k"], "scifact")
        run[qid] = _ranked(res["hits"])
        eval_lat.append(dt)
        server_ms.append(res.get("took_ms"))
        if (i + 1) % 100 == 0:
            log(f"search: {i + 1}/{len(queries)} evaluation queries")
    warm, warm_server = [], []
    for qid in latency_ids:
        res, dt = _query(rt, queries[qid], 10, "scifact")
        warm.append(dt)
        warm_server.append(res.get("took_ms"))
    documind = evaluate(run, qrels)
    short = sum(1 for r in run.values() if len(r) < 100)
    out["dense"] = {
        "documind": documind,
        "chunk_hits_requested": p["search_top_k"],
        "queries_with_fewer_than_100_documents": short,
        "latency_top10_s": summary(warm, 4),
        "latency_top10_server_ms": summary(warm_server, 2),
        "latency_eval_s": summary(eval_lat, 4),
        "latency_top10_values_s": [rnd(x, 4) for x in warm],
    }
    base = ctx.shared.get("scifact_baseline_search")
    if base:
        brun = {q: list(r) for q, r in base["results"].items()}
        bev = evaluate(brun, qrels)
        out["dense"]["baseline"] = bev
        out["dense"]["baseline_latency_top10_s"] = summary(base["latency_top10_s"], 4)
        out["dense"]["baseline_latency_top10_values_s"] = [rnd(x, 4) for x in base["latency_top10_s"]]
        out["dense"]["ratio_ndcg@10"] = ratio(documind["ndcg@10"], bev["ndcg@10"])
        out["dense"]["ratio_recall@100"] = ratio(documind["recall@100"], bev["recall@100"])
    pub = PUBLISHED["all-MiniLM-L6-v2 (MTEB, dense)"]
    out["published"] = PUBLISHED
    for mode in ("keyword", "hybrid"):
        mrun, secs, done = _run_batched(ctx, rt, {q: queries[q] for q in run}, p["search_top_k"], mode)
        if not done:
            out["status"] = "partial"
            out[mode] = {"status": "skipped", "note": "the run's time budget ran out"}
            continue
        out[mode] = {"documind": evaluate(mrun, qrels), "seconds": rnd(secs, 1),
                     "queries_with_fewer_than_100_documents": sum(1 for r in mrun.values() if len(r) < 100)}
        log(f"search: {mode} nDCG@10 {out[mode]['documind']['ndcg@10']:.4f}, Recall@100 {out[mode]['documind']['recall@100']:.4f}")
    hyb_warm = []
    for qid in latency_ids:
        if ctx.remaining() < 10:
            break
        _res, dt = _query(rt, queries[qid], 10, "scifact", mode="hybrid")
        hyb_warm.append(dt)
    if isinstance(out.get("hybrid"), dict) and "documind" in out["hybrid"]:
        out["hybrid"]["latency_top10_s"] = summary(hyb_warm, 4)
    out["summary"] = {
        "ndcg@10": documind["ndcg@10"],
        "recall@100": documind["recall@100"],
        "baseline_ndcg@10": out["dense"].get("baseline", {}).get("ndcg@10"),
        "baseline_recall@100": out["dense"].get("baseline", {}).get("recall@100"),
        "published_ndcg@10": pub["ndcg@10"],
        "published_recall@100": pub["recall@100"],
        "ratio_to_published_ndcg@10": ratio(documind["ndcg@10"], pub["ndcg@10"]) if out["full_corpus"] else None,
        "keyword_ndcg@10": (out["keyword"].get("documind") or {}).get("ndcg@10"),
        "keyword_recall@100": (out["keyword"].get("documind") or {}).get("recall@100"),
        "hybrid_ndcg@10": (out["hybrid"].get("documind") or {}).get("ndcg@10"),
        "hybrid_recall@100": (out["hybrid"].get("documind") or {}).get("recall@100"),
        "published_bm25_ndcg@10": PUBLISHED["BM25 (MTEB bm25s)"]["ndcg@10"],
        "hybrid_warm_p50_s": (out["hybrid"].get("latency_top10_s") or {}).get("p50"),
        "cold_first_query_s": out["cold"]["first_query_s"],
        "warm_p50_s": out["dense"]["latency_top10_s"].get("p50"),
        "warm_p99_s": out["dense"]["latency_top10_s"].get("p99"),
        "baseline_warm_p50_s": out["dense"].get("baseline_latency_top10_s", {}).get("p50"),
        "baseline_warm_p99_s": out["dense"].get("baseline_latency_top10_s", {}).get("p99"),
    }
    out["notes"] = [
        "Published figures are for the full corpus (5,183 abstracts, 300 test queries); a quick run "
        "searches a subset (fewer distractors), so only its ratio to the in-run baseline is comparable.",
        "The MTEB protocol embeds each abstract whole (title + text, truncated at 256 word pieces); "
        "DocuMind and the baseline embed chunks (<= 1000 characters) and rank a document by its best chunk.",
        f"Each query asks for {p['search_top_k']} chunk hits so that about 100 distinct documents remain for Recall@100.",
        "Keyword = BM25 sparse vectors with Qdrant's IDF modifier; hybrid = both prefetched and fused "
        "(DOCUMIND_SEARCH_FUSION, default DBSF). Both run through SearchBatch messages (documind search --queries).",
        "Full-corpus figures of the same retrieval code outside the pipeline (abstracts embedded whole): "
        "bench/results/scifact-retrieval-full.json (python -m bench.retrieval_eval).",
        "On the quick subset (150 abstracts, all relevant ones included) BM25 has few documents to draw IDF "
        "from and dense has few distractors, so hybrid trails dense there (also outside the pipeline: "
        "bench/results/scifact-retrieval-subset-150x75.json); on the full corpus hybrid leads.",
    ]
    log(f"search: nDCG@10 {documind['ndcg@10']:.4f}, Recall@100 {documind['recall@100']:.4f}")
    return out
