"""The Markdown report and the plots, from the results dictionary ``bench.run`` writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common import ratio, rnd


def fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:,.1f}"
        return f"{v:.{digits}f}"
    return str(v)


def verdict(r: float | None, goal: float | None) -> str:
    if goal is None or r is None:
        return ""
    return "meets goal" if r >= goal else "**below goal**"


def _get(d: dict, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)  # type: ignore[assignment]
    return d


def summary_rows(res: dict[str, Any]) -> list[list[str]]:
    m = res.get("measurements", {})
    rows: list[list[str]] = []

    def row(num: str, what: str, dm: Any, base: Any, r: Any = None, goal: float | None = None, unit: str = "") -> None:
        rows.append([num, what, f"{fmt(dm)}{unit}", f"{fmt(base)}{unit}" if base is not None else "—",
                     fmt(r, 3) if r is not None else "—", f"≥ {goal}" if goal is not None else "",
                     verdict(r, goal)])

    def failed(num: str, name: str) -> bool:
        r = m.get(name)
        if r is None:
            rows.append([num, f"{name}: not run", "", "", "", "", ""])
            return True
        if r.get("status") in ("error", "skipped"):
            word = "failed" if r.get("status") == "error" else "skipped"
            rows.append([num, f"{name}: **{word}** — {str(r.get('error'))[:160]}", "", "", "", "", ""])
            return True
        return False

    if not failed("1", "embed"):
        e = m["embed"]
        a, b = e.get("bare_encoder", {}), e.get("chunk_embedder", {})
        row("1", "Encoder.encode vs SentenceTransformer.encode (chunks/s)", a.get("documind_chunks_per_s"),
            a.get("baseline_chunks_per_s"), a.get("ratio"), 0.9)
        row("1", "ChunkEmbedder (DB read + encode + DB write) vs ST (chunks/s)", b.get("documind_chunks_per_s"),
            b.get("baseline_chunks_per_s"), b.get("ratio"), 0.9)
    sc = m.get("scaling", {})
    if sc.get("status") in ("ok", "partial"):
        s = sc["summary"]
        row("1", "Embed stage via Redis + `documind worker embed` (1 process) vs ST (chunks/s)",
            s.get("embed_stage_1_process_chunks_per_s"), s.get("baseline_chunks_per_s"), s.get("embed_stage_ratio"), 0.9)
    for name, label in (("ingest_corpus", "corpus"), ("ingest_scifact", "SciFact")):
        if failed("2", name):
            continue
        c = m[name]["comparison"]
        row("2", f"Ingest {label}: documents/min", c["documents_per_min"]["documind"], c["documents_per_min"]["baseline"],
            c["documents_per_min"]["ratio"], 1.0)
        row("2", f"Ingest {label}: chunks/s", c["chunks_per_s"]["documind"], c["chunks_per_s"]["baseline"],
            c["chunks_per_s"]["ratio"])
        row("2", f"Ingest {label}: time-to-searchable p50 (s)", c["time_to_searchable_p50_s"]["documind"],
            c["time_to_searchable_p50_s"]["baseline"])
        row("2", f"Ingest {label}: time-to-searchable p95 (s)", c["time_to_searchable_p95_s"]["documind"],
            c["time_to_searchable_p95_s"]["baseline"])
        row("2", f"Ingest {label}: CPU seconds (lower is better)", c["cpu_s"]["documind"], c["cpu_s"]["baseline"],
            c["cpu_s"]["ratio"])
    if not failed("3", "queue"):
        q = m["queue"]["summary"]
        row("3", f"No-op messages/s, full middleware vs bare RedisBroker ({q['config']})", q["documind_msgs_per_s"],
            q["bare_msgs_per_s"], q["ratio"], 0.5)
    if not failed("4", "search"):
        s = m["search"]["summary"]
        sub = "" if m["search"].get("full_corpus") else f" (subset of {m['search'].get('documents')} docs)"
        row("4", f"SciFact dense nDCG@10{sub} vs in-run baseline", s["ndcg@10"], s["baseline_ndcg@10"],
            _get(m, "search", "dense", "ratio_ndcg@10"))
        row("4", f"SciFact dense Recall@100{sub} vs in-run baseline", s["recall@100"], s["baseline_recall@100"],
            _get(m, "search", "dense", "ratio_recall@100"))
        rows.append(["4", "Published (full corpus): all-MiniLM-L6-v2 nDCG@10 / Recall@100; BM25 nDCG@10",
                     "", "0.645 / 0.925; 0.687", "", "", ""])
        row("4", "Query latency, cold (first after worker start, s)", s["cold_first_query_s"], None)
        row("4", "Query latency, warm p50 (s, top 10)", s["warm_p50_s"], s["baseline_warm_p50_s"])
        row("4", "Query latency, warm p99 (s, top 10)", s["warm_p99_s"], s["baseline_warm_p99_s"])
        row("4", f"SciFact keyword (BM25) nDCG@10{sub} vs published BM25", s.get("keyword_ndcg@10"),
            s.get("published_bm25_ndcg@10"))
        row("4", f"SciFact hybrid nDCG@10{sub} vs dense", s.get("hybrid_ndcg@10"), s["ndcg@10"])
        row("4", f"SciFact hybrid Recall@100{sub} vs dense", s.get("hybrid_recall@100"), s["recall@100"])
    if not failed("5", "memory"):
        mm = m["memory"]
        for svc, s in mm["services"].items():
            row("5", f"Peak RSS, {svc} worker process (MB)", s["peak_rss_mb_max"], None)
        row("5", "Peak RSS, sum of the three services vs the single baseline process (MB)",
            mm["sum_of_worker_peaks_mb"], mm["baseline_peak_rss_mb"], mm["ratio_sum_to_baseline"])
    if sc and sc.get("status") in ("error", "skipped"):
        word = "failed" if sc.get("status") == "error" else "skipped"
        rows.append(["6", f"scaling: **{word}** — {str(sc.get('error'))[:160]}", "", "", "", "", ""])
    elif not sc:
        rows.append(["6", "scaling: not run", "", "", "", "", ""])
    if sc.get("status") in ("ok", "partial"):
        for s in sc["sizes"]:
            row("6", f"{s['total_chunks']:,} chunks in the collection: s per 1k chunks (embed+index), query p50 (s)",
                f"{fmt(s['s_per_1k_chunks'])} s; {fmt(s['query_latency']['round_trip_s'].get('p50'), 3)} s", None)
        for s in sc["workers"]:
            row("6", f"{s['processes']} embed process(es) x {s['threads']} threads: embed stage chunks/s vs ST", s["embed_chunks_per_s"],
                sc["baseline_chunks_per_s"], s["ratio_to_baseline"])
    if not failed("7", "search_cache"):
        c = m["search_cache"]
        rt_, sv = c["round_trip_s"], c["server_ms"]
        row("7", "Search round trip p50, cache hit vs miss (s)", rt_["hit"].get("p50"), rt_["miss"].get("p50"),
            c.get("ratio_hit_to_miss_p50"))
        row("7", "Search round trip p99, cache hit vs miss (s)", rt_["hit"].get("p99"), rt_["miss"].get("p99"),
            c.get("ratio_hit_to_miss_p99"))
        row("7", "Search worker time p50, cache hit vs miss (ms)", sv["hit"].get("p50"), sv["miss"].get("p50"),
            ratio(sv["hit"].get("p50"), sv["miss"].get("p50")))
    if not failed("9", "cli_start"):
        c = m["cli_start"]
        served = c["search_with_serve_s"].get("p50")
        rows.append(["9", "`documind search` (embedded) p50 s, with `documind serve` vs alone "
                     f"(python start {fmt(c['python_start_s'].get('p50'), 3)} s)",
                     f"{fmt(served, 3)} s", f"{fmt(c['search_alone_s'].get('p50'), 3)} s",
                     fmt(c.get("ratio_served_to_alone_p50"), 3), "≤ ~1 s",
                     "meets goal" if c.get("met") else "**below goal**"])
    if "classification" in m and not failed("8", "classification"):
        c = m["classification"]
        z = c["zero_shot"]
        row("8", "AG News zero-shot accuracy (label descriptions) vs the majority class", z["accuracy"],
            z["majority_baseline"], ratio(z["accuracy"], z["majority_baseline"]))
        for s_ in c["supervised"]["runs"]:
            row("8", f"AG News supervised accuracy, {s_['train_per_class']} examples per class vs zero-shot "
                "(same test split)", s_["accuracy"], z["accuracy_on_supervised_test_split"],
                ratio(s_["accuracy"], z["accuracy_on_supervised_test_split"]))
        a = c["aggregation"]
        row("8", "4-chunk documents (3 on topic, 1 off): mean-vector vs best-chunk accuracy",
            a["mean_vector_accuracy"], a["best_chunk_accuracy"], ratio(a["mean_vector_accuracy"], a["best_chunk_accuracy"]))
    en = m.get("enrichment")
    if en is not None and not failed("9", "enrichment"):
        row("9", "Time to searchable with enrichment vs without, corpus documents one at a time (s, goal ratio ≤ 1.25)",
            en.get("total_on_s"), en.get("total_off_s"), en.get("ratio_total"))
        enriched = [d.get("to_enriched_s") for d in (en.get("per_document") or {}).values()]
        if enriched and None not in enriched:
            row("9", "Upload to enriched (entities, figures) vs upload to searchable, enrichment on (s)",
                rnd(sum(enriched)), en.get("total_on_s"), ratio(sum(enriched), en.get("total_on_s")))
        ip = en.get("in_process") or {}
        if ip.get("ratio_enrich_to_encode") is not None:
            row("9", "Enrichment vs encoding, same chunks in process (ms/chunk; ratio = enrichment's added share)",
                ip.get("enrich_ms_per_chunk"), ip.get("encode_ms_per_chunk"), ip.get("ratio_enrich_to_encode"))
    if not failed("9", "validation"):
        v = m["validation"]
        a, au = v["assignment"], v["audit"]
        row("9", f"Validation tasks taken + approved per s, {a['threads']} threads x {a['validators']} validators "
            f"vs 1 thread ({a['tasks_answered_twice']} answered twice)",
            a["concurrent_tasks_per_s"], a["single_tasks_per_s"], a["ratio_concurrent_to_single"])
        row("9", "Status transitions of a small ingest (8), ms per document: audit on vs off",
            au["ms_per_document"]["audit_on"].get("p50"), au["ms_per_document"]["audit_off"].get("p50"),
            au["ratio_on_to_off_p50"])
    if "onnx" in m and not failed("10", "onnx"):
        o = m["onnx"]
        for t in o["throughput"]:
            for backend in ("onnx-int8", "onnx-fp32"):
                row("10", f"Encoder chunks/s, {backend} vs torch, {t['threads']} thread(s)", t[backend]["chunks_per_s"],
                    t["torch"]["chunks_per_s"], t[backend]["ratio_to_torch"], 2.0 if backend == "onnx-int8" else None)
        q, s_ = o["quality"], o["summary"]
        sub = "" if s_.get("full_corpus") else f" (subset of {q.get('documents')} docs)"
        row("10", f"SciFact dense nDCG@10{sub}, onnx-int8 vs torch (goal: loss ≤ 0.01; loss "
            f"{fmt(q['onnx-int8']['ndcg@10_loss'], 4)})", q["onnx-int8"]["ndcg@10"], q["torch"]["ndcg@10"],
            ratio(q["onnx-int8"]["ndcg@10"], q["torch"]["ndcg@10"]))
        rows.append(["10", "ONNX int8 backend: ≥ 2× chunks/s at every thread count and ≤ 0.01 nDCG@10 loss",
                     f"{fmt(s_['int8_ratio_min_over_threads'], 3)}×, loss {fmt(s_['int8_ndcg@10_loss'], 4)}", "",
                     "", "≥ 2, ≤ 0.01", "meets goal" if s_.get("met") else "**below goal**"])
    if "local_search" in m and not failed("11", "local_search"):
        for s_ in m["local_search"]["sizes"]:
            for mode in ("dense", "keyword", "hybrid"):
                r = s_["modes"].get(mode, {})
                row("11", f"Local-mode {mode} query p50 at {s_['chunks']:,} chunks, in process: service vs Qdrant "
                    f"local's Query API (ms; lower is faster)", r.get("documind_ms", {}).get("p50"),
                    r.get("baseline_ms", {}).get("p50"), r.get("ratio_p50"))
    return rows


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def _notes(r: dict[str, Any]) -> str:
    return "\n".join(f"- {n}" for n in r.get("notes", []))


def markdown(res: dict[str, Any], plots: list[str]) -> str:
    m = res.get("measurements", {})
    env = res.get("environment", {})
    lines = [
        f"# DocuMind benchmark — {res['mode']} run",
        "",
        f"Started {res.get('started_at')}, wall {fmt(res.get('wall_s'))} s, commit {env.get('git_commit')}"
        f"{' (uncommitted changes)' if env.get('git_dirty') else ''}; {env.get('cpus')} CPUs"
        f"{' (' + env['cpu_model'] + ')' if env.get('cpu_model') else ''}, "
        f"{env.get('memory_gb')} GiB; load average at start {res.get('load_average_start')}, "
        f"at end {res.get('load_average_end')} (the machine is shared: compare ratios, not absolutes).",
        "",
        "Ratio = DocuMind / baseline, both measured in this run (for CPU seconds and latency lower is "
        "better, so no goal). How to read each row: bench/README.md.",
        "",
        "## Summary",
        "",
        _table(["#", "measurement", "DocuMind", "baseline", "ratio", "goal", ""], summary_rows(res)),
        "",
    ]
    for p in plots:
        lines += [f"![{Path(p).stem}]({Path(p).name})", ""]
    lines += ["## Details", ""]
    for name, r in m.items():
        lines += [f"### {name}", "", f"status **{r.get('status')}**, {fmt(r.get('wall_s'))} s, load average "
                  f"{r.get('load_average_before')} -> {r.get('load_average_after')}", ""]
        if r.get("separate_run"):
            lines += [_separate_run(r["separate_run"]), ""]
        if r.get("error"):
            lines += ["```", str(r["error"])[:3000], "```", ""]
        lines += _details(name, r)
        if r.get("notes"):
            lines += [_notes(r), ""]
    lines += ["## Parameters", "", "```", *(f"{k} = {v}" for k, v in res.get("parameters", {}).items()), "```", ""]
    return "\n".join(lines)


def _separate_run(origin: Any) -> str:
    """A measurement merged in from another run (``bench.run --merge``) says which."""
    if not isinstance(origin, dict):
        return f"Measured in a separate run: {origin}"
    changed = f", parameters changed: {' '.join(origin['parameter_overrides'])}" if origin.get(
        "parameter_overrides") else ""
    return (f"Measured in a separate run (merged): commit {origin.get('git_commit')}"
            f"{' (uncommitted changes)' if origin.get('git_dirty') else ''}, started {origin.get('started_at')}, "
            f"load average at start {origin.get('load_average_start')}{changed}.")


def _details(name: str, r: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if r.get("status") in ("error", "skipped"):
        return out
    if name == "embed":
        w = r.get("workload", {})
        out.append(f"Workload: {w.get('chunks')} chunks, mean {w.get('mean_chars')} characters / "
                   f"{w.get('mean_word_pieces')} word pieces; model load + warm-up {r.get('model_load_and_warmup_s')} s.")
        a, b = r.get("bare_encoder"), r.get("chunk_embedder")
        if a:
            out.append(f"Encoder vs ST: per-repeat ratios {a['ratios']}, identical vectors (max |diff| "
                       f"{a['max_abs_vector_difference']:.2g}).")
        if b:
            out.append(f"ChunkEmbedder: {b['chunks']} chunks in {b['messages']} messages, per-repeat ratios "
                       f"{b['ratios']}; encode is {fmt(b['encode_share'], 3)} of its time, the rest "
                       f"{b['non_encode_ms_per_chunk']} ms per chunk (DB, status, message).")
        out.append("")
    elif name in ("ingest_corpus", "ingest_scifact"):
        d, b = r.get("documind", {}), r.get("baseline", {})
        rows = [
            ["documents (completed / failed)", f"{d.get('documents')} ({d.get('completed')} / {d.get('failed')})",
             f"{b.get('documents')} ({b.get('completed')} / {b.get('failed')})"],
            ["chunks", fmt(d.get("chunks")), fmt(b.get("chunks"))],
            ["wall s", fmt(d.get("wall_s")), fmt(b.get("wall_s"))],
            ["documents/min", fmt(d.get("documents_per_min")), fmt(b.get("documents_per_min"))],
            ["chunks/s", fmt(d.get("chunks_per_s")), fmt(b.get("chunks_per_s"))],
            ["time-to-searchable p50 / p95 / max s",
             " / ".join(fmt(d.get("time_to_searchable_s", {}).get(k)) for k in ("p50", "p95", "max")),
             " / ".join(fmt(b.get("time_to_searchable_s", {}).get(k)) for k in ("p50", "p95", "max"))],
            ["CPU s", f"{fmt(d.get('cpu_s_total'))} {d.get('cpu_s')}", fmt(b.get("cpu_s"))],
            ["setup (not timed)", f"stack {r.get('stack_setup', {}).get('start_s')} s + warm-up "
             f"{r.get('stack_setup', {}).get('warmup_s')} s", f"{b.get('setup_s')} s"],
        ]
        out += [_table(["", "DocuMind", "baseline"], rows), ""]
        halves = _get(r, "comparison", "documents_per_min", "ratio_by_half")
        if halves:
            out.append(f"Documents/min ratio per half (run as baseline A, DocuMind A, DocuMind B, baseline B): {halves}.")
        if d.get("stage_busy_s"):
            out.append("DocuMind stage busy time (sum over documents): " + ", ".join(
                f"{k} {v['seconds']} s" for k, v in d["stage_busy_s"].items()) + ".")
        if b.get("totals"):
            out.append("Baseline time split: " + ", ".join(f"{k} {v} s" for k, v in b["totals"].items()) + ".")
        if r.get("excluded"):
            out.append(f"Excluded in this mode: {', '.join(r['excluded'])}.")
        one_line = lambda xs: "; ".join(" ".join(str(x).split()) for x in xs)  # noqa: E731
        if d.get("failures"):
            out.append("DocuMind failed documents: " + one_line(d["failures"]) + ".")
        if b.get("failures"):
            out.append("Baseline failed documents: " + one_line(b["failures"]) + ".")
        out.append("")
    elif name == "lanes":
        rows = [["alone", fmt(r.get("median_alone_s")), "1"],
                ["behind a bulk import (interactive lane)", fmt(r.get("median_behind_backlog_s")), fmt(r.get("ratio_backlog_to_alone"), 3)],
                ["behind the import on the same lane (FIFO control)", fmt(r.get("median_same_lane_s")), fmt(r.get("ratio_same_lane_to_alone"), 3)]]
        out += [_table(["interactive upload", "time to searchable s (median)", "ratio to alone"], rows), ""]
    elif name == "queue":
        rows = [[f"1 x {c['threads']}", fmt(c["documind_process_per_s"]), fmt(c["bare_process_per_s"]), fmt(c["ratio"], 3),
                 fmt(c["documind_enqueue_per_s"]), fmt(c["bare_enqueue_per_s"])] for c in r.get("configs", [])]
        out += [_table(["processes x threads", "DocuMind msg/s", "bare msg/s", "ratio",
                        "DocuMind enqueue/s", "bare enqueue/s"], rows), ""]
        diag = [[f"1 x {c['threads']}", k, fmt(v), fmt(v / c["bare_process_per_s"] if v and c["bare_process_per_s"] else None, 3)]
                for c in r.get("configs", []) for k, v in (c.get("diagnostics_per_s") or {}).items()]
        if diag:
            out += ["Where the overhead is (diagnostic variants, one run each):", "",
                    _table(["processes x threads", "variant", "msg/s", "ratio to bare"], diag), ""]
    elif name == "search":
        d = r.get("dense", {})
        rows = [["DocuMind (dense, chunks)", fmt(_get(d, "documind", "ndcg@10"), 4), fmt(_get(d, "documind", "recall@100"), 4)]]
        if d.get("baseline"):
            rows.append(["baseline pipeline (same documents)", fmt(d["baseline"]["ndcg@10"], 4), fmt(d["baseline"]["recall@100"], 4)])
        for k, v in r.get("published", {}).items():
            rows.append([f"published: {k} (full corpus)", fmt(v["ndcg@10"], 4), fmt(v["recall@100"], 4)])
        for mode in ("keyword", "hybrid"):
            ev = r.get(mode, {}).get("documind")
            rows.append([f"DocuMind ({mode}, chunks)", fmt(_get(ev or {}, "ndcg@10"), 4) if ev else r.get(mode, {}).get("status", "n/a"),
                         fmt(_get(ev or {}, "recall@100"), 4) if ev else ""])
        out += [f"{r.get('documents')} documents, {_get(d, 'documind', 'queries')} test queries.", "",
                _table(["system", "nDCG@10", "Recall@100"], rows), ""]
        lt, ls = d.get("latency_top10_s", {}), d.get("latency_top10_server_ms", {})
        out.append(f"Latency (round trip through Redis, top 10): cold first query {fmt(_get(r, 'cold', 'first_query_s'), 3)} s "
                   f"(worker ready after {fmt(_get(r, 'cold', 'worker_ready_s'))} s); warm p50 {fmt(lt.get('p50'), 4)} s, "
                   f"p99 {fmt(lt.get('p99'), 4)} s over {lt.get('n')} queries; in the search worker p50 "
                   f"{fmt(ls.get('p50'))} ms. Baseline (encode + in-memory Qdrant, same process): p50 "
                   f"{fmt(_get(d, 'baseline_latency_top10_s', 'p50'), 4)} s, p99 {fmt(_get(d, 'baseline_latency_top10_s', 'p99'), 4)} s.")
        out.append("")
    elif name == "memory":
        rows = [[svc, f"{s['processes']} x {s['threads']}", ", ".join(fmt(x, 0) for x in s["peak_rss_mb"]),
                 fmt(s["master_peak_rss_mb"], 0)] for svc, s in r.get("services", {}).items()]
        rows.append(["baseline (one process)", "", fmt(r.get("baseline_peak_rss_mb"), 0), ""])
        out += [_table(["service", "processes x threads", "peak RSS per worker process MB", "master MB"], rows), ""]
        out.append("Largest files ingested: " + ", ".join(
            f"{f['name']} ({f['mb']} MB, {f['chunks']} chunks)" for f in r.get("largest_files", [])) + ".")
        out.append("")
    elif name == "scaling":
        rows = [[fmt(s["total_chunks"]), fmt(s["chunks"]), fmt(s["documents"]), fmt(s["wall_s"]), fmt(s["s_per_1k_chunks"]),
                 fmt(s["embed_chunks_per_s"]), fmt(s["embed_cpu_ms_per_chunk"]), fmt(s["search_cpu_ms_per_chunk"]),
                 fmt(s.get("postgres_cpu_ms_per_chunk")),
                 fmt(s["time_to_searchable_s"].get("p95")),
                 fmt(s["query_latency"]["round_trip_s"].get("p50"), 3), fmt(s["query_latency"]["server_ms"].get("p50"))]
                for s in r.get("sizes", [])]
        out += ["Work grows (1 embed process x 2 threads, 1 search process):", "",
                _table(["collection chunks", "added chunks", "docs", "wall s", "s / 1k chunks", "embed chunks/s",
                        "embed CPU ms/chunk", "search CPU ms/chunk", "Postgres CPU ms/chunk", "tts p95 s", "query p50 s", "query in worker ms"], rows), ""]
        rows = [[f"{s['processes']} x {s['threads']}", fmt(s["chunks"]), fmt(s["embed_chunks_per_s"]), fmt(s.get("speedup_vs_1"), 3),
                 fmt(s.get("ratio_to_baseline"), 3), fmt(s["embed_cpu_ms_per_chunk"]),
                 ", ".join(fmt(x, 0) for x in s.get("embed_peak_rss_mb", []))] for s in r.get("workers", [])]
        out += [f"Embed processes grow (baseline SentenceTransformer {fmt(r.get('baseline_chunks_per_s'))} chunks/s "
                f"in one process, readings {r.get('baseline_rates')}):", "",
                _table(["embed processes x threads", "chunks", "embed chunks/s", "speed-up vs 1", "ratio to ST",
                        "embed CPU ms/chunk", "peak RSS per process MB"], rows), ""]
    if name == "local_search":
        rows = []
        for s_ in r.get("sizes", []):
            for mode, m_ in s_["modes"].items():
                d, b = m_.get("documind_ms", {}), m_.get("baseline_ms", {})
                rows.append([fmt(s_["chunks"]), mode, fmt(d.get("p50")), fmt(d.get("p99")), fmt(b.get("p50")),
                             fmt(b.get("p99")), fmt(m_.get("ratio_p50"), 3), m_.get("same_top10_scores", ""),
                             fmt(s_.get("mirror_read_s"))])
        out += [_table(["chunks", "mode", "service p50 ms", "p99 ms", "Query API p50 ms", "p99 ms", "ratio p50",
                        "same top-10 scores", "mirror read s"], rows), ""]
    if name == "onnx":
        ex = r.get("export", {})
        out.append("Export (offline, from the packaged model): " + ", ".join(
            f"{k} {v.get('seconds')} s, {v.get('model_mb')} MB" for k, v in ex.items()) + ".")
        for t in r.get("throughput", []):
            out.append(f"{t['threads']} thread(s): per-repeat ratios int8 {t['onnx-int8'].get('ratios')}, fp32 "
                       f"{t['onnx-fp32'].get('ratios')}; min cosine to torch {t.get('min_cosine_to_torch')}; "
                       f"load average {t.get('load_average')}.")
        out.append("")
    if name == "classification":
        z = r.get("zero_shot", {})
        out += [f"Dataset: {r.get('dataset')}; model {r.get('model')}. Zero-shot on {z.get('articles')} articles: "
                f"accuracy {fmt(z.get('accuracy'), 3)} (per class {z.get('accuracy_per_class')}); with the default "
                f"threshold {fmt(z.get('share_given_a_label'), 3)} of articles get a label and "
                f"{fmt(z.get('precision_of_kept_labels'), 3)} of the labels given are right; classify() "
                f"{fmt(z.get('classify_ms_per_document'), 3)} ms per document.", "",
                _table(["temperature", "NLL", "ECE", "mean top score"],
                       [[fmt(c["temperature"], 3), fmt(c["nll"], 3), fmt(c["ece"], 3), fmt(c["mean_top_score"], 3)]
                        for c in r.get("calibration", [])]), ""]
    if name == "enrichment":
        rows = [[n, fmt(v.get("chunks")), fmt(v["off_s"]), fmt(v["on_s"]), fmt(v["ratio"], 3)]
                for n, v in (r.get("per_document") or {}).items()]
        out += [_table(["document", "chunks", "without s", "with s", "ratio"], rows), "",
                f"Total ratio {fmt(r.get('ratio_total'), 3)}, median per-document ratio {fmt(r.get('median_ratio'), 3)} "
                "(goal: total ratio ≤ 1.25).", ""]
    if name == "chaos":
        keys = ["documents", "completed", "failed", "kills", "restarts", "redis_kills", "postgres_stopped_s",
                "redrives", "dead_letters", "lost", "duplicated", "stuck", "failed_by_chaos", "drain_s"]
        out += [_table(keys, [[fmt(r.get(k)) for k in keys]]), "", f"Kills by service: {r.get('kills_by_service')}", ""]
    return out


# ---- plots ---------------------------------------------------------------------------------
def plots(res: dict[str, Any], out_dir: Path, mode: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    m = res.get("measurements", {})
    sc = m.get("scaling", {})
    if sc.get("status") in ("ok", "partial") and (sc.get("sizes") or sc.get("workers")):
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
        sizes = sc.get("sizes", [])
        if sizes:
            x = [s["total_chunks"] for s in sizes]
            a1.plot(x, [s["s_per_1k_chunks"] for s in sizes], "o-", label="wall s per 1k chunks (embed+index)")
            a1.plot(x, [s["embed_cpu_ms_per_chunk"] for s in sizes], "s--", label="embed CPU s per 1k chunks")
            a1.plot(x, [s["search_cpu_ms_per_chunk"] for s in sizes], "^--", label="search CPU s per 1k chunks")
            a1.plot(x, [s.get("postgres_cpu_ms_per_chunk") or 0 for s in sizes], "v--", label="Postgres CPU s per 1k chunks")
            if len(x) > 1 and max(x) / max(min(x), 1) > 10:
                a1.set_xscale("log")
            a1.set_xlabel("chunks in the collection")
            a1.set_ylabel("seconds per 1,000 chunks")
            a1.set_ylim(bottom=0)
            b1 = a1.twinx()
            b1.plot(x, [s["query_latency"]["round_trip_s"].get("p50", 0) * 1000 for s in sizes], "d:", color="tab:red",
                    label="query p50 ms (right)")
            b1.set_ylabel("query p50 ms")
            b1.set_ylim(bottom=0)
            h1, l1 = a1.get_legend_handles_labels()
            h2, l2 = b1.get_legend_handles_labels()
            a1.legend(h1 + h2, l1 + l2, fontsize=7, loc="best")
            a1.set_title("Cost as work grows (flat = linear)")
        w = sc.get("workers", [])
        if w:
            a2.bar([f"{s['processes']}x{s['threads']}" for s in w], [s["embed_chunks_per_s"] for s in w], color="tab:blue",
                   label="DocuMind embed stage")
            a2.axhline(sc["baseline_chunks_per_s"], color="tab:orange", ls="--", label="SentenceTransformer, 1 process")
            a2.set_xlabel("embed worker processes x threads")
            a2.set_ylabel("chunks / s")
            a2.legend(fontsize=8)
            a2.set_title("Embed throughput vs worker processes")
        fig.tight_layout()
        path = out_dir / f"{mode}-scaling.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(str(path))

    series = []
    for name, label in (("ingest_corpus", "corpus"), ("ingest_scifact", "SciFact")):
        r = m.get(name, {})
        if r.get("status") == "ok":
            series.append((f"{label} DocuMind", r["documind"].get("time_to_searchable_values", [])))
            series.append((f"{label} baseline", r["baseline"].get("time_to_searchable_values", [])))
    s = m.get("search", {})
    lat = []
    if s.get("status") in ("ok", "partial"):
        lat.append(("DocuMind (bus round trip)", _get(s, "dense", "latency_top10_values_s") or []))
        lat.append(("baseline (in process)", _get(s, "dense", "baseline_latency_top10_values_s") or []))
    has_tts, has_lat = any(v for _, v in series), any(v for _, v in lat)
    if has_tts or has_lat:
        fig, axes = plt.subplots(1, int(has_tts) + int(has_lat), figsize=(5.5 * (int(has_tts) + int(has_lat)), 4.2),
                                 squeeze=False)
        a1 = axes[0][0]
        a2 = axes[0][-1]
    if has_tts:
        for label, vals in series:
            if vals:
                ys = [(i + 1) / len(vals) for i in range(len(vals))]
                a1.step(sorted(vals), ys, where="post", label=label, ls="-" if "DocuMind" in label else "--")
        a1.set_xlabel("time to searchable, s")
        a1.set_ylabel("fraction of documents")
        a1.set_title("Time-to-searchable (CDF)")
        a1.legend(fontsize=8)
    if has_lat:
        import numpy as np

        cold = _get(s, "cold", "first_query_s")
        allv = [v * 1000 for _, vals in lat for v in vals] + ([cold * 1000] if cold else [])
        if allv:
            bins = np.logspace(np.log10(max(min(allv), 0.01) * 0.9), np.log10(max(allv) * 1.1), 40)
            for label, vals in lat:
                if vals:
                    a2.hist([v * 1000 for v in vals], bins=bins, alpha=0.6, label=label)
            a2.set_xscale("log")
        if cold:
            a2.axvline(cold * 1000, color="tab:red", ls=":", label=f"cold first query {cold:.1f} s")
        a2.set_xlabel("query latency, ms (top 10)")
        a2.set_ylabel("queries")
        a2.set_title("Search latency (warm) and the cold first query")
        a2.legend(fontsize=8)
    if has_tts or has_lat:
        fig.tight_layout()
        path = out_dir / f"{mode}-latency.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made.append(str(path))
    return made
