"""How the cost grows: with the amount of work, and with the number of embed processes.

Work is put straight into the database the way the ingest service leaves it after chunking
(``StatusStore.register``, ``replace_chunks``, ``hand_off`` to the embed stage: documents of
``scaling_chunks_per_doc`` chunks cut from SciFact abstracts), then one ``EmbedChunks``
message per 128-chunk range is sent, as the ingest service does; the real ``documind worker
embed`` and ``documind worker search`` processes embed, index and complete the documents.
Extraction is left out here (its cost is per file, see the ingest measurements).

Sizes: the collection grows to each total in turn (e.g. 1k -> 5k -> 20k chunks); for each
step: seconds per 1,000 chunks (wall and CPU of the embed and search workers), time to
searchable, and query latency at that collection size. Linear cost = flat per-1,000 figures.

Workers: the embed service restarted with 1, 2, 4 processes (2 threads each, the default),
the same number of chunks each time: embed-stage throughput (chunks/s from the first message
sent to the last vector written) against ``SentenceTransformer.encode`` on the same kind of
chunks in this process (the embed measurement's "full stage" comparison, goal >= 0.9)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.common import (
    REDIS_DBS,
    Context,
    Stack,
    chunk_texts,
    has_mapped,
    load_scifact,
    log,
    median,
    ratio,
    rnd,
    summary,
    utcnow_naive,
)

TENANT = "scaling"
# A shared library that an embed process maps once its encoder is loaded, by backend.
ENCODER_LIBRARIES = ("onnxruntime_pybind11_state", "libtorch_cpu")


def _make_docs(stack: Stack, tenant: str, texts: list[str], per_doc: int) -> list[tuple[str, int, int]]:
    from documind.db.models import StageName
    from documind.status import Upload
    from documind_ingest.chunk_store import replace_chunks
    from documind_ingest.chunking import ChunkDraft

    rt = stack.runtime()
    docs = []
    for i in range(0, len(texts), per_doc):
        part = texts[i : i + per_doc]
        reg = rt.status.register(Upload(tenant, f"{tenant}-{uuid.uuid4().hex[:8]}.txt", uuid.uuid4().hex * 2, 1, "none"))
        replace_chunks(rt.sessions, reg.document_id, reg.generation, [ChunkDraft(t, 0, None, None, []) for t in part])
        rt.status.update_document(reg.document_id, reg.generation, chunk_count=len(part))
        rt.status.hand_off(reg.document_id, reg.generation, StageName.EMBED, units_total=len(part))
        docs.append((reg.document_id, reg.generation, len(part)))
    return docs


def _send(stack: Stack, docs: list[tuple[str, int, int]]) -> int:
    from documind.contracts import EmbedChunks

    rt = stack.runtime()
    step = rt.settings.embed_chunks_per_message
    n = 0
    for doc_id, gen, count in docs:
        for start in range(0, count, step):
            rt.bus.send(EmbedChunks(document_id=doc_id, generation=gen, start=start, end=min(count, start + step)))
            n += 1
    return n


def _run_batch(stack: Stack, texts: list[str], per_doc: int, timeout: float, tenant: str = TENANT) -> dict[str, Any]:
    t = time.perf_counter()
    docs = _make_docs(stack, tenant, texts, per_doc)
    prep_s = time.perf_counter() - t
    ids = [d[0] for d in docs]
    cpu0 = stack.cpu()
    t0 = utcnow_naive()
    messages = _send(stack, docs)
    stack.wait_ids_final(ids, timeout=timeout, poll=0.5)
    cpu1 = stack.cpu()
    rows = stack.sql(
        "SELECT d.status, d.completed_at, (SELECT max(c.embedded_at) FROM chunks c WHERE c.document_id = d.id) "
        "FROM documents d WHERE d.id = ANY(:ids)", ids=ids,
    )
    failed = sum(r[0] != "completed" for r in rows)
    end = max(r[1] for r in rows if r[1] is not None)
    embed_end = max(r[2] for r in rows if r[2] is not None)
    n = len(texts)
    wall = (end - t0).total_seconds()
    embed_wall = (embed_end - t0).total_seconds()
    cpu = {k: cpu1.get(k, 0) - cpu0.get(k, 0) for k in cpu1}
    return {
        "chunks": n,
        "documents": len(docs),
        "messages": messages,
        "failed": failed,
        "prepare_s": rnd(prep_s, 2),
        "wall_s": rnd(wall, 2),
        "embed_wall_s": rnd(embed_wall, 2),
        "chunks_per_s": rnd(n / wall, 2),
        "embed_chunks_per_s": rnd(n / embed_wall, 2),
        "s_per_1k_chunks": rnd(wall / n * 1000, 1),
        "embed_cpu_ms_per_chunk": rnd(cpu.get("embed", 0) / n * 1000, 2),
        "search_cpu_ms_per_chunk": rnd(cpu.get("search", 0) / n * 1000, 2),
        "postgres_cpu_ms_per_chunk": rnd(cpu.get("postgres", 0) / n * 1000, 2),
        "time_to_searchable_s": summary([(r[1] - t0).total_seconds() for r in rows if r[1] is not None], 2),
    }


def _latency(stack: Stack, queries: list[str]) -> dict[str, Any]:
    from documind.contracts import SearchQuery

    rt = stack.runtime()
    lat, server = [], []
    for q in queries:
        t = time.perf_counter()
        res = rt.bus.call(SearchQuery(query=q, tenant=TENANT, top_k=10, model=rt.settings.embedding_model), timeout_s=180)
        lat.append(time.perf_counter() - t)
        server.append(res.get("took_ms"))
    return {"round_trip_s": summary(lat, 4), "server_ms": summary(server, 2)}


def _warm_embed(stack: Stack, processes: int, texts: list[str], timeout: float = 240) -> int:
    """Send small documents until every embed process has loaded its encoder's runtime and
    the model (a process loads them on its first message): ONNX Runtime for the default
    backend, torch for ``DOCUMIND_ENCODER_BACKEND=torch``. Returns how many are warm."""
    deadline = time.monotonic() + timeout
    while True:
        pids = stack.worker_pids("embed")
        warm = sum(any(has_mapped(pid, lib) for lib in ENCODER_LIBRARIES) for pid in pids)
        if len(pids) >= processes and warm >= processes:
            return warm
        if time.monotonic() > deadline:
            return warm
        docs = _make_docs(stack, "warmup", texts[: 4 * processes * 2], 2)
        _send(stack, docs)
        stack.wait_ids_final([d[0] for d in docs], timeout=max(10.0, deadline - time.monotonic()), poll=0.3)


def _baseline_rate(model, texts: list[str]) -> float:  # noqa: ANN001
    from bench.embed import st_encode

    t = time.perf_counter()
    st_encode(model, texts)
    return len(texts) / (time.perf_counter() - t)


def _stack(ctx: Context) -> tuple[Stack, bool]:
    """Quick mode reuses the shared ingest stack (its ingest worker idles); a full run starts
    a fresh embed + search stack so the collection holds only this measurement's points."""
    if ctx.params.get("share_ingest_stack"):
        from bench import ingest

        return ingest.ingest_stack(ctx, "scaling"), True
    ctx.close()
    log("scaling: starting a fresh stack (embed, search)")
    stack = Stack(label="scaling", redis_db=REDIS_DBS["scaling"])
    ctx.shared["stack:scaling"] = stack
    stack.start({"embed": (1, 2), "search": (1, 2)})
    return stack, False


def measure(ctx: Context) -> dict[str, Any]:
    from bench.embed import get_baseline_model

    p = ctx.params
    per_doc = p["scaling_chunks_per_doc"]
    sizes, workers, w_chunks = p["scaling_sizes"], p["scaling_workers"], p["scaling_worker_chunks"]
    timeout = ctx.timeout(p["scaling_timeout_s"])
    need = sizes[-1] + w_chunks * len(workers) + 64 * max(w[0] for w in workers) + 64
    texts = chunk_texts(need, seed=13)
    pool = iter(range(len(texts)))

    def take(n: int) -> list[str]:
        return [texts[next(pool)] for _ in range(n)]

    _, queries, _ = load_scifact()
    qtexts = list(queries.values())[: p["scaling_latency_queries"]]
    stack, shared = _stack(ctx)
    out: dict[str, Any] = {"status": "ok", "shared_stack": shared, "chunks_per_document": per_doc}
    if stack.services["embed"].processes != 1:
        stack.stop_service("embed")
        stack.start_service("embed", 1, 2)
    log("scaling: warming up the embed and search workers")
    _warm_embed(stack, 1, take(8))
    _latency(stack, qtexts[:1])  # loads the model in the search worker

    # ---- sizes -------------------------------------------------------------------------------
    steps = []
    total = 0
    skipped = []
    for target in sizes:
        n = target - total
        if n <= 0:
            continue
        if ctx.remaining() < 60:
            skipped.append(f"size {target}")
            continue
        log(f"scaling: {n} chunks -> collection of {target} chunks (1 embed process)")
        res = _run_batch(stack, take(n), per_doc, timeout)
        total = target
        res["total_chunks"] = total
        res["indexed_points_in_collection"] = stack.sql("SELECT count(*) FROM chunks WHERE indexed_at IS NOT NULL")[0][0]
        res["query_latency"] = _latency(stack, qtexts)
        steps.append(res)
        log(f"scaling: {res['chunks_per_s']} chunks/s, {res['s_per_1k_chunks']} s per 1k chunks, "
            f"query p50 {res['query_latency']['round_trip_s'].get('p50')} s")
    out["sizes"] = steps

    # ---- embed processes -----------------------------------------------------------------------
    st = get_baseline_model()
    sample = texts[: p["scaling_baseline_chunks"]]
    st_encode_warm = sample[:16]
    _baseline_rate(st, st_encode_warm)
    base_rates = [_baseline_rate(st, sample)]
    log(f"scaling: baseline SentenceTransformer {base_rates[0]:.1f} chunks/s")
    series = []
    for procs, threads in workers:
        reuse = None
        if ctx.quick and (procs, threads) == (1, 2):  # quick: the sizes series already ran these on 1 x 2
            reuse = next((s for s in reversed(steps) if s["chunks"] == w_chunks), None)
        if reuse is not None:
            res = dict(reuse, processes=1, threads=2, warm_processes=1, reused_from_sizes=True,
                       embed_peak_rss_mb=[w["peak_rss_mb"] for w in stack.memory().get("embed", {}).get("workers", [])])
            series.append(res)
            continue
        if ctx.remaining() < 75:
            skipped.append(f"{procs} x {threads} embed processes x threads")
            continue
        svc = stack.services["embed"]
        if (svc.processes, svc.threads) != (procs, threads):
            log(f"scaling: restarting the embed service with {procs} processes x {threads} threads")
            stack.stop_service("embed")
            stack.start_service("embed", procs, threads)
        warm = _warm_embed(stack, procs, take(8 * procs))
        log(f"scaling: {w_chunks} chunks with {procs} embed process(es) x {threads} threads ({warm} warm)")
        res = _run_batch(stack, take(w_chunks), per_doc, timeout)
        mem = stack.memory().get("embed", {})
        res.update({"processes": procs, "threads": threads, "warm_processes": warm,
                    "embed_peak_rss_mb": [w["peak_rss_mb"] for w in mem.get("workers", [])]})
        series.append(res)
        log(f"scaling: {procs} x {threads}: embed stage {res['embed_chunks_per_s']} chunks/s")
    base_rates.append(_baseline_rate(st, sample))
    base = median(base_rates)
    one = next((s for s in series if (s["processes"], s["threads"]) == (1, 2)), None)
    for s in steps:
        s["embed_ratio_to_baseline"] = ratio(s["embed_chunks_per_s"], base)
    for s in series:
        s["ratio_to_baseline"] = ratio(s["embed_chunks_per_s"], base)
        s["speedup_vs_1"] = ratio(s["embed_chunks_per_s"], one["embed_chunks_per_s"]) if one else None
    out["workers"] = series
    if skipped:
        out["status"] = "partial"
        out["skipped"] = skipped
        out["error"] = f"skipped for the run's time budget: {', '.join(skipped)}"
    out["baseline_chunks_per_s"] = rnd(base, 2)
    out["baseline_rates"] = [rnd(r, 2) for r in base_rates]
    out["summary"] = {
        "embed_stage_1_process_chunks_per_s": one["embed_chunks_per_s"] if one else None,
        "baseline_chunks_per_s": rnd(base, 2),
        "embed_stage_ratio": one["ratio_to_baseline"] if one else None,
        "goal": 0.9,
        "s_per_1k_chunks_by_size": {str(s["total_chunks"]): s["s_per_1k_chunks"] for s in steps},
        "query_p50_s_by_size": {str(s["total_chunks"]): s["query_latency"]["round_trip_s"].get("p50") for s in steps},
        "embed_chunks_per_s_by_processes_x_threads": {f"{s['processes']}x{s['threads']}": s["embed_chunks_per_s"] for s in series},
    }
    out["notes"] = [
        f"Documents of {per_doc} chunks; one EmbedChunks message per document (<= 128 chunks a message), "
        "so each encode call sees that many chunks.",
        "embed_chunks_per_s: chunks / (last embedded_at - first message sent); the baseline encodes "
        f"{len(sample)} chunks of the same pool in one SentenceTransformer.encode call in this process "
        "(median of a reading before and after the series).",
        "CPU per chunk: CPU seconds of the embed / search worker processes (and of the Postgres backends "
        "serving the stack) over the step, per chunk.",
        "Two cores: torch already uses both in one process, so more embed processes mainly add memory. "
        "A 1 x 1 row (full mode) shows one encode at a time per process (threads compete for the cores otherwise).",
    ] + (["Quick mode: the shared ingest stack is reused; its collection also holds the corpus and SciFact points."]
         if shared else [])
    return out
