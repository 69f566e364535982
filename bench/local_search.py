"""Local-mode search latency by collection size: the service's query path against Qdrant local's
own Query API, in one process, up to 100,000 chunks.

Per size N: one in-memory local collection made by the service's ``VectorIndex`` (its layout
and payload), holding N chunk-like SciFact texts (``chunk_texts``; their BM25 vectors from the
service's ``keywords.py``) with random unit dense vectors (a query's cost does not depend on
the values), all of one tenant. Then the same queries (other SciFact passages' first
sentences, top 10, prefetch 100) in each mode, alternating per query between

- **baseline**: ``VectorIndex`` without the mirror, i.e. one Qdrant Query API call with no
  filter (the tenant census leaves the single tenant's filter out): what a plain script asking
  Qdrant local gets;
- **documind**: the search service's local-mode index (census + ``local_mirror.py``).

Reported: p50/p99 ms per mode and path, documind / baseline per mode (lower is faster), the
seconds the mirror took to read the collection (a worker does it at start), and how many
queries got the same ten scores from both paths (ids may differ only among equal scores: the
texts repeat beyond SciFact's ~15,000 pieces, with a counter, so large sizes hold many ties). The
baseline's queries at a size stop after ``local_search_baseline_max_s`` per mode (at least 3
queries): at 100,000 chunks one of its keyword queries takes seconds.

    .venv/bin/python -m bench.run --only local_search [--quick] [--set local_search_sizes=[1000,5000]]
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.common import Context, chunk_texts, first_sentence, log, ratio, rnd, summary

TENANT = "localbench"
DIM = 384
TOP_K = 10
PREFETCH = 100


def _collection(n: int, texts: list[str]) -> tuple[Any, Any, Any, float]:
    import numpy as np
    from qdrant_client import QdrantClient

    from documind_search.local_mirror import LocalMirror
    from documind_search.keywords import Bm25Params, document_vector
    from documind_search.tenant_census import TenantCensus
    from documind_search.vector_index import DENSE, SPARSE, Point, VectorIndex

    client = QdrantClient(location=":memory:")
    mirror = LocalMirror(SPARSE, DENSE)
    fast = VectorIndex(client, "chunks", "bench", DIM, census=TenantCensus(), mirror=mirror)
    plain = VectorIndex(client, "chunks", "bench", DIM, census=TenantCensus())
    rng = np.random.default_rng(n)
    params = Bm25Params()
    t = time.perf_counter()
    for start in range(0, n, 1000):
        vecs = rng.normal(size=(min(1000, n - start), DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        plain.upsert([
            Point(id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{n}:{i}")), vector=v.tolist(),
                  sparse=document_vector(texts[i], params),
                  payload={"tenant": TENANT, "document_id": f"doc-{i // 3}", "generation": 1, "chunk_index": i % 3,
                           "text": texts[i], "source_name": f"doc-{i // 3}.txt"})
            for i, v in zip(range(start, start + len(vecs)), vecs)
        ])
    log(f"local_search: {n:,} points written in {time.perf_counter() - t:.0f} s")
    t = time.perf_counter()
    fast.warm_mirror()
    return fast, plain, rng, time.perf_counter() - t


def _size(ctx: Context, n: int, texts: list[str], queries: list[str]) -> dict[str, Any]:
    import numpy as np

    from documind_search.filters import SearchFilters
    from documind_search.keywords import query_vector
    from documind_search.vector_index import FusionMethod, SearchMode

    fast, plain, rng, read_s = _collection(n, texts)
    flt = SearchFilters(tenant=TENANT)
    cap = ctx.params["local_search_baseline_max_s"]

    def ask(index: Any, mode: SearchMode, q: str, dense: list[float]) -> tuple[list[float], float]:
        t = time.perf_counter()
        hits = index.search(filters=flt, limit=TOP_K, mode=mode, dense=dense, sparse=query_vector(q),
                            fusion=FusionMethod.DBSF, prefetch_limit=PREFETCH)
        return [h.score for h in hits], (time.perf_counter() - t) * 1000

    out: dict[str, Any] = {"chunks": n, "mirror_read_s": rnd(read_s, 2), "modes": {}}
    for mode in (SearchMode.DENSE, SearchMode.KEYWORD, SearchMode.HYBRID):
        ours: list[float] = []
        base: list[float] = []
        same = spent = 0.0
        for q in queries:
            if ctx.remaining() < 20:
                break
            v = rng.normal(size=DIM)
            dense = (v / np.linalg.norm(v)).tolist()
            scores, ms = ask(fast, mode, q, dense)
            ours.append(ms)
            if spent > cap * 1000 and len(base) >= 3:
                continue
            base_scores, base_ms = ask(plain, mode, q, dense)
            base.append(base_ms)
            spent += base_ms
            same += len(scores) == len(base_scores) and bool(np.allclose(scores, base_scores, rtol=1e-5, atol=1e-6))
        row: dict[str, Any] = {"documind_ms": summary(ours, 2), "baseline_ms": summary(base, 2)}
        row["ratio_p50"] = ratio(row["documind_ms"].get("p50"), row["baseline_ms"].get("p50"))
        row["ratio_p99"] = ratio(row["documind_ms"].get("p99"), row["baseline_ms"].get("p99"))
        row["same_top10_scores"] = f"{int(same)}/{len(base)}"
        out["modes"][mode.value] = row
        log(f"local_search: {n:,} chunks, {mode.value}: documind p50 {row['documind_ms'].get('p50')} ms, "
            f"baseline p50 {row['baseline_ms'].get('p50')} ms")
    return out


def measure(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    sizes = sorted(p["local_search_sizes"])
    texts = chunk_texts(max(sizes) + p["local_search_queries"], seed=23)
    queries = [first_sentence(t) for t in texts[max(sizes):]]
    out: dict[str, Any] = {"status": "ok", "queries_per_mode": len(queries), "top_k": TOP_K, "prefetch": PREFETCH,
                           "sizes": []}
    for n in sizes:
        if ctx.remaining() < 60:
            out["status"] = "partial"
            log(f"local_search: stopped before {n:,} chunks for the run's time budget")
            break
        out["sizes"].append(_size(ctx, n, texts[:n], queries))
    out["notes"] = [
        "In one process, no queue hop and no database check: only the index's share of a query. "
        "The baseline is Qdrant local's Query API on the same collection (no filter: one tenant).",
        "mirror_read_s: reading the collection into the mirror, which a search worker does at start.",
    ]
    return out
