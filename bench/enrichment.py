"""The enrichment's cost: time to searchable with entity extraction, sentiment and quality in
the embed stage, against the same stack with ``DOCUMIND_ENRICHMENT_ENABLED=false`` (goal: at
most +25 %, ratio <= 1.25).

One distributed stack (ingest, embed, search: 1 process x 2 threads each). Each corpus document
is ingested alone (the next one only when it is final), so its time to searchable
(``completed_at - created_at``) is processing time, not time waiting behind other documents. The
embed and search workers are restarted with the setting flipped between rounds, in the order
off, on, on, off ... (so drifting load weighs on both sides alike), and every round uses a
tenant of its own (the same bytes under a new tenant are a new document). The document-level
summary and the validation hand-off run after completion, so they are not in the figure; the
per-chunk work is."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import Context, Stack, corpus_files, log, median, ratio, rnd

REDIS_DB = 10  # the scaling measurement's: measurements run one after the other, each flushes it


def _set_enrichment(stack: Stack, enabled: bool) -> None:
    stack.env["DOCUMIND_ENRICHMENT_ENABLED"] = "true" if enabled else "false"
    for name in ("embed", "search"):
        stack.stop_service(name)
        stack.start_service(name, 1, 2, wait=False)
    stack.wait_ready(["embed", "search"])


def _round(stack: Stack, files: list[Path], tenant: str, timeout_s: float) -> dict[str, float]:
    """Each file alone: seconds from registration to searchable, by file name."""
    out: dict[str, float] = {}
    for path in files:
        proc = stack.cli("ingest", str(path), "--tenant", tenant, "--json")
        import json

        (doc,) = json.loads(proc.stdout)
        stack.wait_ids_final([doc["id"]], timeout_s, poll=0.2)
        [(status, seconds)] = stack.sql(
            "SELECT status, EXTRACT(EPOCH FROM completed_at - created_at) FROM documents WHERE id = :id", id=doc["id"]
        )
        if status == "completed":
            out[path.name] = float(seconds)
    return out


def measure(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    files = [f for f in corpus_files() if f.name in set(p["enrich_docs"])]
    stack = Stack(label="enrich", redis_db=REDIS_DB)
    stack.start({"ingest": (1, 2), "embed": (1, 2), "search": (1, 2)})
    try:
        order = [False, True] + [True, False] * (p["enrich_repeats"] - 1)
        rounds: list[dict[str, Any]] = []
        current = None
        for i, enabled in enumerate(order):
            if enabled != current:
                _set_enrichment(stack, enabled)
                current = enabled
                _round(stack, files[:1], f"warm{i}", ctx.timeout(300))  # loads the models in the fresh workers
            times = _round(stack, files, f"r{i}{'on' if enabled else 'off'}", ctx.timeout(p["enrich_timeout_s"]))
            rounds.append({"enrichment": enabled, "seconds": {k: rnd(v) for k, v in times.items()}})
            log(f"enrichment: round {i} {'on' if enabled else 'off'}: {sum(times.values()):.1f} s over {len(times)} docs")
        on = [r["seconds"] for r in rounds if r["enrichment"]]
        off = [r["seconds"] for r in rounds if not r["enrichment"]]
        names = sorted(set.intersection(*(set(r) for r in on + off)))
        per_doc = {
            n: {"off_s": rnd(median([r[n] for r in off])), "on_s": rnd(median([r[n] for r in on]))} for n in names
        }
        for row in per_doc.values():
            row["ratio"] = ratio(row["on_s"], row["off_s"])
        total_on = sum(v["on_s"] for v in per_doc.values())
        total_off = sum(v["off_s"] for v in per_doc.values())
        chunks = dict(stack.sql(
            "SELECT source_name, max(chunk_count) FROM documents WHERE status = 'completed' GROUP BY source_name"
        ))
        for n, row in per_doc.items():
            row["chunks"] = chunks.get(n)
        return {
            "status": "ok",
            "documents": len(names),
            "rounds": rounds,
            "per_document": per_doc,
            "total_off_s": rnd(total_off),
            "total_on_s": rnd(total_on),
            "ratio_total": ratio(total_on, total_off),
            "median_ratio": rnd(median([v["ratio"] for v in per_doc.values() if v["ratio"] is not None])),
            "goal": "ratio_total <= 1.25",
        }
    finally:
        stack.stop()
