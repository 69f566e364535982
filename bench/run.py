"""DocuMind benchmark suite: ``python -m bench.run [--quick] [--only NAME...]``.

Runs each measurement in turn, every one next to a baseline measured in the same run, and
writes ``<mode>.json``, ``<mode>.md`` and plots. A complete run writes to ``bench/results/``;
a run with ``--only`` writes to ``bench/out/`` (scratch, git-ignored) unless ``--out`` says
otherwise, and with ``--merge`` also puts its measurements into ``bench/results/<mode>.json``
(so a full run can be finished across sessions; each merged measurement names its own run).
A measurement that fails is reported with its error; the others still run. One whose test
data (the corpus, SciFact) is absent is reported as skipped, saying where it was looked for.
See bench/README.md."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from bench.common import CLEANUP, RESULTS, SCRATCH, Context, DataMissing, install_signal_handlers, load_average, log

# Parameters per mode. Sizes are chunk or document counts; see bench/README.md.
QUICK: dict[str, Any] = {
    # The run ends by budget_s: a measurement whose estimate (at normal load) no longer fits is
    # skipped and reported as such; waits inside a measurement end at the budget too.
    "budget_s": 575,
    "estimates_s": {"embed": 45, "queue": 35, "ingest_corpus": 75, "memory": 0, "ingest_scifact": 70,
                    "search": 25, "scaling": 70, "search_cache": 90, "lanes": 120, "extraction": 90,
                    "chaos": 420, "classification": 60, "enrichment": 150, "cli_start": 120, "validation": 40,
                    "onnx": 240, "local_search": 120},
    "cli_docs": 50,
    "cli_repeats": 3,
    "embed_chunks": 48,
    "embed_repeats": 3,
    "embedder_chunks": 96,
    "embedder_repeats": 2,
    "onnx_chunks": 64,
    "onnx_repeats": 3,
    "onnx_threads": [1, 2],
    "onnx_scifact_subset": [150, 75],  # retrieval_eval's seeded subset
    "local_search_sizes": [1000, 5000],
    "local_search_queries": 10,
    "local_search_baseline_max_s": 20,
    "queue_messages": 1500,
    "queue_repeats": 3,
    "queue_threads": [8],
    "queue_diagnostics": ["documind_no_receipts"],
    "corpus_exclude": [
        "DA-619p.pdf", "handbook-872p.docx", "book-war-and-peace-1225p.txt", "example-10k.html",  # the largest
        "winter-sports.epub", "UDHR_first_article_all.txt", "2023-half-year-analyses-by-segment.xlsx",  # slowest
        "layout-parser-paper-fast.jpg", "copy-protected.pdf", "fake-power-point.ppt",
        "invalid-pdf-structure-pdfminer-one-page.pdf", "norwich-city.txt", "csv-with-long-lines.csv",
    ],
    "corpus_timeout_s": 300,
    "scifact_docs": 150,
    "scifact_queries": 75,
    "scifact_timeout_s": 300,
    "share_ingest_stack": True,
    "search_top_k": 300,
    "search_latency_queries": 30,
    "scaling_sizes": [100, 300],
    "scaling_chunks_per_doc": 10,
    "scaling_workers": [[1, 2], [2, 2]],  # embed processes x threads
    "scaling_worker_chunks": 200,  # = the second size step, which the 1 x 2 row reuses
    "scaling_baseline_chunks": 48,
    "scaling_latency_queries": 10,
    "scaling_timeout_s": 240,
    "cache_docs": 40,
    "cache_queries": 40,
    "lanes_backlog_docs": 30,
    "lanes_chunks_per_doc": 6,
    "lanes_repeats": 1,
    "validation_tasks": 200,
    "validation_threads": 8,
    "validation_validators": 4,
    "audit_docs": 40,
    "audit_repeats": 3,
    # Chaos (bench/chaos.py): seconds from the first batch's ingest; the short form of
    # tests/integration/test_chaos.py uses about these sizes.
    "chaos_docs": 45,
    "chaos_batches": 3,
    "chaos_s": 75,
    "chaos_kill_every_s": [5, 9],
    "chaos_redis_kill_at_s": 20,
    "chaos_pg_stop_at_s": 40,
    "chaos_pg_stop_s": 15,
    "chaos_stale_after_s": 10,
    "chaos_drain_timeout_s": 360,
    "classify_zero_shot_per_class": 250,
    "classify_multichunk_docs": 200,
    "classify_test_per_class": 250,
    "classify_train_per_class": [10, 50, 250],
    "enrich_docs": ["norwich-city.txt", "fake-email.txt", "layout-parser-paper-fast.pdf", "simple.odt",
                    "fake-html-cp1252.html"],
    "enrich_repeats": 1,
    "enrich_timeout_s": 300,
    "enrich_chunks": 96,
    "enrich_inprocess_repeats": 3,
}
FULL: dict[str, Any] = {
    "budget_s": None,
    "estimates_s": {},
    "cli_docs": 500,
    "cli_repeats": 5,
    "embed_chunks": 256,
    "embed_repeats": 5,
    "embedder_chunks": 512,
    "embedder_repeats": 3,
    "onnx_chunks": 256,
    "onnx_repeats": 5,
    "onnx_threads": [1, 2],
    "onnx_scifact_subset": None,  # all 5,183 abstracts, 300 test queries
    "local_search_sizes": [1000, 5000, 15000, 50000, 100000],
    "local_search_queries": 30,
    "local_search_baseline_max_s": 60,
    "queue_messages": 5000,
    "queue_repeats": 3,
    "queue_threads": [2, 8],
    "queue_diagnostics": ["documind_no_receipts"],
    "corpus_exclude": [],
    "corpus_timeout_s": 3600,
    "scifact_docs": None,
    "scifact_queries": None,
    "scifact_timeout_s": 3600,
    "share_ingest_stack": False,
    "search_top_k": 300,
    "search_latency_queries": 200,
    "scaling_sizes": [1000, 5000, 20000],
    "scaling_chunks_per_doc": 10,
    "scaling_workers": [[1, 2], [2, 2], [4, 2], [1, 1]],  # embed processes x threads
    "scaling_worker_chunks": 1000,
    "scaling_baseline_chunks": 512,
    "scaling_latency_queries": 30,
    "scaling_timeout_s": 3600,
    "cache_docs": 500,
    "cache_queries": 300,
    "lanes_backlog_docs": 100,
    "lanes_chunks_per_doc": 8,
    "lanes_repeats": 3,
    "validation_tasks": 2000,
    "validation_threads": 16,
    "validation_validators": 8,
    "audit_docs": 200,
    "audit_repeats": 5,
    "chaos_docs": 120,
    "chaos_batches": 4,
    "chaos_s": 180,
    "chaos_kill_every_s": [3, 6],
    "chaos_redis_kill_at_s": 50,
    "chaos_pg_stop_at_s": 100,
    "chaos_pg_stop_s": 30,
    "chaos_stale_after_s": 10,
    "chaos_drain_timeout_s": 1200,
    "classify_zero_shot_per_class": 1000,
    "classify_multichunk_docs": 1000,
    "classify_test_per_class": 500,
    "classify_train_per_class": [10, 50, 250, 1000],
    "enrich_docs": ["norwich-city.txt", "fake-email.txt", "layout-parser-paper-fast.pdf", "multi-column-2p.pdf",
                    "simple.odt", "fake-html-cp1252.html", "docx-tables.docx", "README.rst", "codeblock.md",
                    "winter-sports.epub"],
    "enrich_repeats": 2,
    "enrich_timeout_s": 900,
    "enrich_chunks": 512,
    "enrich_inprocess_repeats": 5,
}


def _measurements() -> dict[str, Callable[[Context], dict[str, Any]]]:
    from bench import (
        chaos, classification, cli_start, embed, enrichment, extraction, ingest, lanes, local_search, memory,
        onnx_backend, queue_overhead, scaling, search, search_cache, validation,
    )

    return {
        "embed": embed.measure,
        "queue": queue_overhead.measure,
        "ingest_corpus": ingest.measure_corpus,
        "memory": memory.measure,
        "ingest_scifact": ingest.measure_scifact,
        "search": search.measure,
        "scaling": scaling.measure,
        "search_cache": search_cache.measure,
        "lanes": lanes.measure,
        "extraction": extraction.measure,
        "chaos": chaos.measure,
        "classification": classification.measure,
        "enrichment": enrichment.measure,
        "cli_start": cli_start.measure,
        "validation": validation.measure,
        "onnx": onnx_backend.measure,
        "local_search": local_search.measure,
    }


NAMES = ["embed", "queue", "ingest_corpus", "memory", "ingest_scifact", "search", "scaling", "search_cache", "lanes", "extraction",
         "validation", "chaos", "classification", "enrichment", "cli_start", "onnx",
         "local_search"]
# The last measurement that uses the ingest stack(s); they are stopped after it.
INGEST_STACK_USERS = {"ingest_corpus", "memory", "ingest_scifact", "search"}


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, timeout=10).stdout.strip() or None
    except Exception:  # noqa: BLE001
        return None


def environment() -> dict[str, Any]:
    import importlib.metadata as md

    versions = {}
    for pkg in ("torch", "sentence-transformers", "dramatiq", "qdrant-client", "unstructured", "SQLAlchemy", "redis"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "packages": versions,
    }


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes; finishes in under 10 minutes")
    ap.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME",
                    help=f"run only these measurements ({', '.join(NAMES)})")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default: bench/results, or bench/out with --only)")
    ap.add_argument("--set", nargs="+", default=[], metavar="KEY=JSON",
                    help="override a parameter of the mode, e.g. --set scaling_sizes=[500,1000] scifact_docs=300")
    ap.add_argument("--merge", action="store_true",
                    help="also merge this run's measurements into bench/results/<mode>.json and re-render "
                         "its report (finish a full run in parts; each merged measurement records its run)")
    args = ap.parse_args(argv)
    merge_target = RESULTS / f"{'quick' if args.quick else 'full'}.json"
    if args.merge and not merge_target.exists():
        ap.error(f"--merge: {merge_target} does not exist; run the whole mode once first")

    install_signal_handlers()
    mode = "quick" if args.quick else "full"
    selected = [n for n in NAMES if not args.only or n in args.only]
    out_dir = args.out or (SCRATCH if args.only else RESULTS)
    out_dir.mkdir(parents=True, exist_ok=True)
    SCRATCH.mkdir(parents=True, exist_ok=True)
    params = dict(QUICK if args.quick else FULL)
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in params:
            ap.error(f"--set: unknown parameter {key!r}; known: {', '.join(params)}")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    if args.set and not args.out:
        out_dir = SCRATCH  # a run with changed parameters never replaces the committed results
    ctx = Context(quick=args.quick, params=params, selected=selected)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    budget = ctx.params.get("budget_s")
    ctx.deadline = t0 + budget if budget else None
    log(f"mode {mode}: {', '.join(selected)} -> {out_dir}")
    results: dict[str, Any] = {
        "mode": mode,
        "started_at": started.isoformat(timespec="seconds"),
        "environment": environment(),
        "parameters": ctx.params,
        "load_average_start": load_average(),
        "measurements": {},
    }
    registry = _measurements()
    users = INGEST_STACK_USERS | ({"scaling"} if ctx.params.get("share_ingest_stack") else set())
    last_stack_user = max((selected.index(n) for n in selected if n in users), default=-1)
    for i, name in enumerate(selected):
        log(f"=== {name} ===")
        t = time.monotonic()
        la = load_average()
        need = ctx.params.get("estimates_s", {}).get(name, 30)
        if ctx.deadline is not None and ctx.remaining() < need:
            log(f"{name}: skipped, {ctx.remaining():.0f} s left of the {budget} s budget (needs ~{need} s)")
            results["measurements"][name] = {
                "status": "skipped",
                "error": f"skipped: {max(0, ctx.remaining()):.0f} s were left of the {budget} s budget of the "
                         f"{mode} run, it needs ~{need} s (the machine was slow: see load averages)"}
            continue
        try:
            res = registry[name](ctx)
        except DataMissing as exc:  # no corpus or SciFact here: nothing to measure, nothing broken
            log(f"{name}: skipped: {exc}")
            res = {"status": "skipped", "error": f"skipped: {exc}"}
        except Exception as exc:  # noqa: BLE001 - a failed measurement is a result, not a crash
            log(f"{name} failed: {type(exc).__name__}: {exc}")
            res = {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:4000],
                   "traceback": traceback.format_exc()[-6000:]}
        res["wall_s"] = round(time.monotonic() - t, 1)
        res["load_average_before"] = la
        res["load_average_after"] = load_average()
        results["measurements"][name] = res
        log(f"{name}: {res.get('status')} in {res['wall_s']} s")
        if i == last_stack_user:
            ctx.close(everything=True)
        _write(results, out_dir, mode, final=False)
    ctx.close(everything=True)
    CLEANUP.run()
    results["wall_s"] = round(time.monotonic() - t0, 1)
    results["load_average_end"] = load_average()
    _write(results, out_dir, mode, final=True)
    log(f"done in {results['wall_s']} s: {out_dir / (mode + '.md')}")
    if args.merge:
        merge_into(merge_target, results, overrides=args.set)
        log(f"merged {', '.join(results['measurements'])} into {merge_target}")
    failed = [n for n, r in results["measurements"].items() if r.get("status") == "error"]
    if failed:
        log(f"failed measurements: {', '.join(failed)}")
    return 0


def merge_into(target: Path, run: dict[str, Any], *, overrides: list[str]) -> None:
    """Replace ``target``'s measurements by this run's, each marked with the run it came
    from (commit, start, changed parameters), and re-render the target's report."""
    merged = json.loads(target.read_text())
    if merged.get("mode") != run["mode"]:
        raise SystemExit(f"--merge: {target} is a {merged.get('mode')} run, this one is {run['mode']}")
    env = run["environment"]
    origin = {
        "started_at": run["started_at"], "git_commit": env.get("git_commit"), "git_dirty": env.get("git_dirty"),
        "parameter_overrides": overrides, "load_average_start": run.get("load_average_start"),
    }
    measurements = dict(merged.get("measurements", {}))
    for name, res in run["measurements"].items():
        measurements[name] = {**res, "separate_run": origin}
    merged["measurements"] = {n: measurements[n] for n in NAMES if n in measurements}
    merged.setdefault("merged_runs", []).append({**origin, "measurements": list(run["measurements"])})
    _write(merged, target.parent, merged["mode"], final=True)


def _write(results: dict[str, Any], out_dir: Path, mode: str, final: bool) -> None:
    from bench import readme_table, report

    (out_dir / f"{mode}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    if not final:
        return
    try:
        plots = report.plots(results, out_dir, mode)
    except Exception as exc:  # noqa: BLE001
        log(f"plots failed: {type(exc).__name__}: {exc}")
        plots = []
    results["plots"] = plots
    (out_dir / f"{mode}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out_dir / f"{mode}.md").write_text(report.markdown(results, plots))
    if mode == "full" and out_dir.resolve() == readme_table.RESULTS.parent:
        readme_table.update()  # the README's performance table follows the committed full run


if __name__ == "__main__":
    sys.exit(main())
