"""Peak memory per worker process over the corpus ingest.

``documind worker SVC`` exec's into Dramatiq's master, which forks the worker processes that
run the actors; their ``VmHWM`` (peak resident set, /proc/<pid>/status) after the corpus
ingest is each one's peak over the whole run, the largest corpus documents included (in
quick mode: the largest of the quick subset). Baseline: the peak RSS of the plain
single-process pipeline over the same files (``ru_maxrss``). Readings are taken by the
``ingest_corpus`` measurement; run alone, this measurement runs that ingest first."""

from __future__ import annotations

from typing import Any

from bench.common import Context, log, ratio


def measure(ctx: Context) -> dict[str, Any]:
    mem = ctx.shared.get("corpus_memory")
    out: dict[str, Any] = {"status": "ok"}
    if mem is None:
        from bench import ingest

        log("memory: no corpus ingest in this run yet; running it")
        res = ingest.measure_corpus(ctx)
        out["ingest_status"] = res.get("status")
        mem = ctx.shared.get("corpus_memory")
        if mem is None:
            raise RuntimeError("the corpus ingest left no memory readings")
    services = {}
    for name, m in mem["workers"].items():
        services[name] = {
            "processes": m["processes"],
            "threads": m["threads"],
            "peak_rss_mb": [w["peak_rss_mb"] for w in m["workers"]],
            "peak_rss_mb_max": m["peak_rss_mb_max"],
            "rss_mb_now": [w["rss_mb"] for w in m["workers"]],
            "master_peak_rss_mb": m["master_peak_rss_mb"],
        }
    total = sum(s["peak_rss_mb_max"] or 0 for s in services.values())
    base = mem["baseline_peak_rss_mb"]
    out.update({
        "services": services,
        "baseline_peak_rss_mb": base,
        "sum_of_worker_peaks_mb": round(total, 1),
        "ratio_sum_to_baseline": ratio(total, base),
        "largest_files": mem["largest_files"],
        "files": len(mem["files"]),
        "summary": {
            **{f"{n}_peak_rss_mb": s["peak_rss_mb_max"] for n, s in services.items()},
            "baseline_peak_rss_mb": base,
            "sum_of_worker_peaks_mb": round(total, 1),
        },
        "notes": [
            "Peak RSS (VmHWM) of each Dramatiq worker process (the children of the `documind worker` "
            "process); the master's own peak is listed separately and is small.",
            "The stack also ran one warm-up document; quick mode shares its stack with the SciFact ingest, "
            "read after the corpus ingest.",
            "The sum of the services' peaks is what the three services need on one machine; no goal is set.",
        ],
    })
    return out
