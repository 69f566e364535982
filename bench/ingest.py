"""End-to-end ingest through the distributed stack (Redis, Postgres, one ``documind worker``
per service: ingest, embed, search; 1 process x 2 threads each, the project's defaults) next
to the plain single-process pipeline of ``bench.baseline`` over the same files.

DocuMind side: ``documind ingest FILES --tenant T --json`` (uploads, registers and enqueues;
distributed mode returns without waiting), then one aggregate query a second until every
document is final. Wall time = CLI start -> the last ``completed_at``; time-to-searchable =
``completed_at - created_at`` per completed document, from the database. Both sides are
warmed up first (models and parsers loaded), so the figures are steady-state throughput.

The files are split into two halves of about equal cost and run baseline(A), stack(A),
stack(B), baseline(B), so that load from other jobs drifting during the run weighs on both
sides alike. Two measurements: ``ingest_corpus`` (../shared/corpus, the files its MANIFEST lists; quick
mode leaves the slowest out) and ``ingest_scifact`` (SciFact abstracts as ``<_id>.txt`` files
in a temp folder; quick mode a subset). The SciFact stack stays up for the search
measurement."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CLEANUP,
    REDIS_DBS,
    SCRATCH,
    WARMUP_TEXT,
    Context,
    Stack,
    base_env,
    corpus_files,
    load_scifact,
    log,
    ratio,
    rnd,
    scifact_subset,
    scifact_text,
    scratch_dir,
    summary,
    utcnow_naive,
    write_scifact_folder,
)

SERVICES = {"ingest": (1, 2), "embed": (1, 2), "search": (1, 2)}


# ---- the stack -------------------------------------------------------------------------------
def ingest_stack(ctx: Context, purpose: str) -> Stack:
    """The ingest stack for ``purpose``; quick mode shares one between corpus, SciFact, search
    (and scaling). Starting a new one stops any other first (one stack's memory at a time)."""
    key = "stack:ingest" if ctx.params.get("share_ingest_stack") else f"stack:{purpose}"
    stack = ctx.shared.get(key)
    if isinstance(stack, Stack) and all(s.popen.poll() is None for s in stack.services.values()):
        return stack
    ctx.close()
    log(f"starting the distributed stack ({', '.join(SERVICES)}) for {purpose}")
    t = time.perf_counter()
    stack = Stack(label=key.split(":")[1], redis_db=REDIS_DBS["ingest"])
    ctx.shared[key] = stack
    stack.start(SERVICES)
    start_s = time.perf_counter() - t
    log(f"stack up in {start_s:.1f} s; warming up (one small document)")
    t = time.perf_counter()
    folder = scratch_dir("warmup")
    (folder / "warmup.txt").write_text(WARMUP_TEXT)
    stack.cli("ingest", str(folder / "warmup.txt"), "--tenant", "warmup", "--json")
    stack.wait_documents_final("warmup", 1, timeout=300, poll=0.3)
    ctx.shared[key + ":info"] = {
        "services": {n: {"processes": p, "threads": th} for n, (p, th) in SERVICES.items()},
        "start_s": rnd(start_s, 1),
        "ready_s": {n: s.ready_s for n, s in stack.services.items()},
        "warmup_s": rnd(time.perf_counter() - t, 1),
    }
    return stack


def stack_info(ctx: Context, stack: Stack) -> dict[str, Any]:
    for key, value in ctx.shared.items():
        if value is stack:
            return ctx.shared.get(key + ":info", {})
    return {}


def run_stack(stack: Stack, args: list[Path], tenant: str, timeout: float) -> dict[str, Any]:
    """Ingest ``args`` (files or folders) with the CLI and wait until all are final."""
    cpu0 = stack.cpu()
    t0 = utcnow_naive()
    t = time.perf_counter()
    proc = stack.cli("ingest", *map(str, args), "--tenant", tenant, "--json", timeout=timeout)
    upload_s = time.perf_counter() - t
    registered = json.loads(proc.stdout)
    ids = sorted({r["id"] for r in registered})
    log(f"stack: {len(registered)} files uploaded in {upload_s:.1f} s; waiting for {len(ids)} documents")
    stack.wait_ids_final(ids, timeout=max(10.0, timeout - upload_s), poll=0.5)
    cpu1 = stack.cpu()
    rows = stack.sql(
        "SELECT source_name, status, chunk_count, created_at, completed_at, error, size_bytes "
        "FROM documents WHERE id = ANY(:ids)", ids=ids,
    )
    stages = stack.sql(
        "SELECT name, sum(extract(epoch FROM finished_at - started_at)), count(*) FROM stages "
        "WHERE document_id = ANY(:ids) AND finished_at IS NOT NULL GROUP BY name", ids=ids,
    )
    end = max(r[4] for r in rows if r[4] is not None)
    wall = (end - t0).total_seconds()
    completed = [r for r in rows if r[1] == "completed"]
    tts = [(r[4] - r[3]).total_seconds() for r in completed]
    return {
        "documents": len(rows),
        "completed": len(completed),
        "failed": sum(r[1] == "failed" for r in rows),
        "chunks": sum(r[2] or 0 for r in completed),
        "wall_s": wall,
        "upload_s": upload_s,
        "tts": tts,
        "cpu_s": {k: cpu1.get(k, 0) - cpu0.get(k, 0) for k in cpu1},
        "stage_busy_s": {name: [float(sec or 0), n] for name, sec, n in stages},
        "failures": [f"{r[0]}: {(r[5] or '')[:120]}" for r in rows if r[1] == "failed"],
        "per_document": {r[0]: {"status": r[1], "chunks": r[2], "size_bytes": r[6],
                                "tts_s": rnd((r[4] - r[3]).total_seconds(), 3) if r[4] else None} for r in rows},
    }


def combine_stack(parts: list[dict[str, Any]]) -> dict[str, Any]:
    docs = sum(p["documents"] for p in parts)
    wall = sum(p["wall_s"] for p in parts)
    chunks = sum(p["chunks"] for p in parts)
    tts = [x for p in parts for x in p["tts"]]
    cpu: dict[str, float] = {}
    busy: dict[str, list[float]] = {}
    for p in parts:
        for k, v in p["cpu_s"].items():
            cpu[k] = cpu.get(k, 0) + v
        for k, (sec, n) in p["stage_busy_s"].items():
            b = busy.setdefault(k, [0.0, 0])
            b[0] += sec
            b[1] += n
    return {
        "documents": docs,
        "completed": sum(p["completed"] for p in parts),
        "failed": sum(p["failed"] for p in parts),
        "chunks": chunks,
        "wall_s": rnd(wall, 2),
        "upload_s": rnd(sum(p["upload_s"] for p in parts), 2),
        "documents_per_min": rnd(docs / wall * 60, 2),
        "chunks_per_s": rnd(chunks / wall, 2),
        "time_to_searchable_s": summary(tts, 3),
        "time_to_searchable_values": [rnd(x, 3) for x in sorted(tts)],
        "cpu_s": {k: rnd(v, 2) for k, v in cpu.items()},
        "cpu_s_total": rnd(sum(cpu.values()), 2),
        "stage_busy_s": {k: {"seconds": rnd(v[0], 2), "documents": v[1]} for k, v in busy.items()},
        "failures": sorted(f for p in parts for f in p["failures"]),
        "per_document": {k: v for p in parts for k, v in p["per_document"].items()},
        "halves": [{"documents": p["documents"], "wall_s": rnd(p["wall_s"], 2),
                    "documents_per_min": rnd(p["documents"] / p["wall_s"] * 60, 2)} for p in parts],
    }


# ---- the baseline ------------------------------------------------------------------------------
class BaselineServer:
    """``python -m bench.baseline`` as one long-lived process: imports and model load are paid
    once (like the stack's warm-up), each request is timed on its own."""

    def __init__(self, timeout: float = 600) -> None:
        logs = SCRATCH / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / "baseline.log"
        self._err = self.log_path.open("w")
        log("baseline: starting the plain single-process pipeline (imports, model)")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.baseline"], env=base_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._err, text=True, start_new_session=True,
        )
        self._closer = CLEANUP.add("baseline process", self.stop)
        self.setup_s = self._read(timeout)["setup_s"]

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise TimeoutError(f"the baseline did not answer within {timeout:.0f} s")
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if ready:
                line = self.proc.stdout.readline()
                if line:
                    return json.loads(line)
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"baseline exited {self.proc.returncode}: {tail}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(self, files: list[Path], *, fresh: bool, queries: dict[str, Any] | None, top_k: int,
                timeout: float) -> dict[str, Any]:
        out = scratch_dir("baseline") / "out.json"
        req = {"files": [str(f) for f in files], "out": str(out), "fresh": fresh, "queries": queries, "top_k": top_k}
        log(f"baseline: plain single-process pipeline over {len(files)} files")
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        self._read(timeout)
        return json.loads(out.read_text())

    def stop(self) -> None:
        CLEANUP.discard(self._closer)
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()
        self._err.close()


def baseline_server(ctx: Context) -> BaselineServer:
    server = ctx.shared.get("baseline")
    if isinstance(server, BaselineServer) and server.alive():
        return server
    server = BaselineServer(timeout=ctx.timeout(600))
    ctx.shared["baseline"] = server
    return server


def combine_baseline(parts: list[dict[str, Any]]) -> dict[str, Any]:
    docs = [d for p in parts for d in p["documents"]]
    wall = sum(p["wall_s"] for p in parts)
    chunks = sum(p["chunks"] for p in parts)
    done = [d for d in docs if d["status"] == "completed"]
    tts = [d["done_s"] for d in done]
    totals: dict[str, float] = {}
    for p in parts:
        for k, v in p["totals"].items():
            totals[k] = round(totals.get(k, 0) + v, 3)
    out = {
        "documents": len(docs),
        "completed": len(done),
        "failed": len(docs) - len(done),
        "chunks": chunks,
        "wall_s": rnd(wall, 2),
        "setup_s": round(sum(p["setup_s"] for p in parts), 2),
        "documents_per_min": rnd(len(docs) / wall * 60, 2),
        "chunks_per_s": rnd(chunks / wall, 2),
        "time_to_searchable_s": summary(tts, 3),
        "time_to_searchable_values": [rnd(x, 3) for x in sorted(tts)],
        "cpu_s": rnd(sum(p["cpu_s"] for p in parts), 2),
        "peak_rss_mb": max(p["peak_rss_mb"] for p in parts),  # of the process so far
        "totals": totals,
        "failures": sorted(f"{d['name']}: {d['error']}" for d in docs if d["status"] != "completed"),
        "per_document": {d["name"]: {"status": d["status"], "chunks": d["chunks"], "done_s": d["done_s"]} for d in docs},
        "halves": [{"documents": len(p["documents"]), "wall_s": p["wall_s"],
                    "documents_per_min": rnd(len(p["documents"]) / p["wall_s"] * 60, 2)} for p in parts],
    }
    search = [p["search"] for p in parts if p.get("search")]
    if search:
        out["search"] = search[-1]
    return out


def halves(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """Two halves of about equal cost: sizes alternate between them, largest first."""
    order = sorted(paths, key=lambda f: f.stat().st_size, reverse=True)
    return sorted(order[0::2]), sorted(order[1::2])


def run_pair(ctx: Context, purpose: str, tenant: str, a: list[Path], b: list[Path], args_a: list[Path],
             args_b: list[Path], timeout: float, queries: dict[str, Any] | None = None, top_k: int = 10,
             ) -> tuple[Stack, dict[str, Any], dict[str, Any]]:
    """baseline(A), stack(A), stack(B), baseline(B): a load that drifts during the run
    weighs on both sides alike (an A-B-B-A design). The baseline's second request adds to
    the index of its first, so that queries see the whole set."""
    deadline = time.monotonic() + timeout
    left = lambda: max(20.0, deadline - time.monotonic())  # noqa: E731
    server = baseline_server(ctx)
    base_a = server.request(a, fresh=True, queries=None, top_k=top_k, timeout=left())
    log(f"baseline A: {len(a)} documents, {base_a['chunks']} chunks in {base_a['wall_s']:.1f} s")
    stack = ingest_stack(ctx, purpose)
    st_a = run_stack(stack, args_a, tenant, left())
    log(f"stack A: {st_a['documents']} documents, {st_a['chunks']} chunks in {st_a['wall_s']:.1f} s")
    st_b = run_stack(stack, args_b, tenant, left())
    log(f"stack B: {st_b['documents']} documents, {st_b['chunks']} chunks in {st_b['wall_s']:.1f} s")
    base_b = server.request(b, fresh=False, queries=queries, top_k=top_k, timeout=left())
    log(f"baseline B: {len(b)} documents, {base_b['chunks']} chunks in {base_b['wall_s']:.1f} s")
    base = combine_baseline([base_a, base_b])
    base["setup_s"] = round(server.setup_s, 2)  # once per run: the process serves every request
    return stack, combine_stack([st_a, st_b]), base


def compare(stack: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    return {
        "documents_per_min": {"documind": stack["documents_per_min"], "baseline": base["documents_per_min"],
                              "ratio": ratio(stack["documents_per_min"], base["documents_per_min"]), "goal": 1.0,
                              "ratio_by_half": [ratio(s["documents_per_min"], b["documents_per_min"])
                                                for s, b in zip(stack["halves"], base["halves"])]},
        "chunks_per_s": {"documind": stack["chunks_per_s"], "baseline": base["chunks_per_s"],
                         "ratio": ratio(stack["chunks_per_s"], base["chunks_per_s"])},
        "time_to_searchable_p50_s": {"documind": stack["time_to_searchable_s"].get("p50"),
                                     "baseline": base["time_to_searchable_s"].get("p50")},
        "time_to_searchable_p95_s": {"documind": stack["time_to_searchable_s"].get("p95"),
                                     "baseline": base["time_to_searchable_s"].get("p95")},
        "cpu_s": {"documind": stack["cpu_s_total"], "baseline": base["cpu_s"],
                  "ratio": ratio(stack["cpu_s_total"], base["cpu_s"])},
    }


NOTES = [
    "Ratio = DocuMind / baseline for throughput (goal >= 1.0 for documents/min).",
    "Chunk counts differ slightly: DocuMind splits a chunk longer than the model's 256 word-piece "
    "window, the baseline embeds it truncated; DocuMind also rejects bad inputs in validation.",
    "Time-to-searchable: DocuMind from the document's created_at (its upload by the CLI) to completed_at; "
    "baseline from the start of processing (every file arrived at once) to its upsert.",
    "cpu_s: CPU seconds of the worker processes (and their finished subprocesses: LibreOffice, Tesseract) "
    "and of the Postgres backends serving the stack's database, vs the baseline process (and its subprocesses).",
    "Order: baseline(half A), DocuMind(A), DocuMind(B), baseline(B), the halves alternating by file size, so that "
    "a load drifting during the run weighs on both sides alike; ratio_by_half in the JSON shows the spread.",
]


# ---- measurements ------------------------------------------------------------------------------
def measure_corpus(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    paths = corpus_files(exclude=p["corpus_exclude"])
    a, b = halves(paths)
    out: dict[str, Any] = {"status": "ok", "files": [x.name for x in paths], "excluded": p["corpus_exclude"],
                           "half_a": [x.name for x in a], "half_b": [x.name for x in b]}
    stack, res, base = run_pair(ctx, "corpus", "corpus", a, b, a, b, ctx.timeout(p["corpus_timeout_s"]))
    out["stack_setup"] = stack_info(ctx, stack)
    out["documind"], out["baseline"] = res, base
    ctx.shared["corpus_memory"] = {
        "workers": stack.memory(),
        "baseline_peak_rss_mb": base["peak_rss_mb"],
        "files": [x.name for x in paths],
        "largest_files": [
            {"name": x.name, "mb": rnd(x.stat().st_size / 2**20, 2),
             "chunks": res["per_document"].get(x.name, {}).get("chunks")}
            for x in sorted(paths, key=lambda f: f.stat().st_size, reverse=True)[:4]
        ],
    }
    out["comparison"] = compare(res, base)
    out["summary"] = out["comparison"]
    out["notes"] = NOTES
    return out


def scifact_selection(ctx: Context) -> tuple[list[dict], dict[str, str], dict[str, dict[str, int]]]:
    docs, queries, qrels = load_scifact()
    nq = ctx.params.get("scifact_queries")
    if nq and nq < len(queries):
        import random

        keep = sorted(random.Random(11).sample(sorted(queries), nq), key=int)
        queries = {q: queries[q] for q in keep}
        qrels = {q: qrels[q] for q in keep}
    return scifact_subset(docs, qrels, ctx.params.get("scifact_docs")), queries, qrels


def measure_scifact(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    docs, queries, qrels = scifact_selection(ctx)
    root = scratch_dir("scifact")
    order = sorted(docs, key=lambda d: len(scifact_text(d)), reverse=True)
    docs_a, docs_b = order[0::2], order[1::2]
    folder_a = write_scifact_folder(docs_a, root / "a")
    folder_b = write_scifact_folder(docs_b, root / "b")
    latency_ids = list(queries)[: p["search_latency_queries"]]
    out: dict[str, Any] = {"status": "ok", "documents_in_subset": len(docs), "test_queries": len(queries),
                           "subset": "all" if len(docs) >= 5183 else "every document judged for the chosen test "
                           "queries plus a seeded random sample of the rest"}
    stack, res, base = run_pair(
        ctx, "scifact", "scifact", sorted(folder_a.iterdir()), sorted(folder_b.iterdir()), [folder_a], [folder_b],
        ctx.timeout(p["scifact_timeout_s"]), queries={"queries": queries, "latency": latency_ids},
        top_k=p["search_top_k"],
    )
    ctx.shared["scifact_baseline_search"] = base.pop("search", None)
    res.pop("per_document", None)
    base.pop("per_document", None)
    out["stack_setup"] = stack_info(ctx, stack)
    out["documind"], out["baseline"] = res, base
    ctx.shared["scifact"] = {"stack": stack, "queries": queries, "qrels": qrels, "latency_ids": latency_ids,
                             "documents": len(docs)}
    out["comparison"] = compare(res, base)
    out["summary"] = out["comparison"]
    out["notes"] = NOTES
    return out
