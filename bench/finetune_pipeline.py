"""Issue 11's fine-tuning target through the real pipeline: SciFact's 5,183 abstracts ingested
into a distributed stack (Postgres, Redis, one worker process per service), the test split's
300 queries judged through the search service (dense, keyword, hybrid), then

1. ``documind model train --pairs`` (the job, in the embed worker) on SciFact's train split,
2. ``documind model activate N`` (the search service re-embeds every chunk from its stored text
   into a new collection and switches the alias),

and the same 300 queries judged again. Both judgements use the same stack, the same chunks and
the same search code, so the difference is the model. ``bench.finetune`` does the same
in-process (every abstract encoded whole, no chunking, no services) for a quicker reading.

    .venv/bin/python -m bench.finetune_pipeline [--epochs 5] [--batch-size 32] [--lr 3e-5] \
        [--out bench/results/finetune-scifact-pipeline.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.common import (
    CLEANUP, REDIS_DBS, Context, Stack, install_signal_handlers, load_average, load_scifact, log, rnd, scratch_dir,
    write_scifact_folder,
)
from bench.finetune import train_pairs, write_pairs
from bench.ingest import SERVICES, run_stack
from bench.run import environment
from bench.search import _run_batched, evaluate

MODES = ("dense", "keyword", "hybrid")
TOP_K = 100  # chunk hits per query, as the suite's SciFact search row


def judge(ctx: Context, stack: Stack, queries: dict[str, str], qrels: dict[str, dict[str, int]]) -> dict[str, Any]:
    """nDCG@10 and Recall@100 of every mode through the stack's search service."""
    rt = stack.runtime()
    out: dict[str, Any] = {}
    for mode in MODES:
        run, secs, _done = _run_batched(ctx, rt, queries, TOP_K, mode)
        out[mode] = {**evaluate(run, qrels), "seconds": rnd(secs, 1)}
        log(f"  {mode}: nDCG@10 {out[mode]['ndcg@10']:.4f} Recall@100 {out[mode]['recall@100']:.4f}")
    return out


def cli_json(stack: Stack, *args: str, timeout: float) -> Any:
    proc = stack.cli(*args, "--json", timeout=timeout)
    return json.loads(proc.stdout)


def run(args: argparse.Namespace) -> dict[str, Any]:
    docs, queries, qrels = load_scifact()
    out: dict[str, Any] = {
        "documents": len(docs), "test_queries": len(queries), "epochs": args.epochs, "batch_size": args.batch_size,
        "learning_rate": args.lr, "held_out": args.held_out, "environment": environment(),
        "load_average_start": load_average(),
    }
    ctx = Context(quick=False, params={}, selected=[])
    stack = Stack(label="finetune", redis_db=REDIS_DBS["ingest"],
                  extra_env={"DOCUMIND_FINETUNE_LEARNING_RATE": str(args.lr)})
    try:
        stack.start(SERVICES)
        folder = write_scifact_folder(docs, scratch_dir("finetune-scifact") / "docs")
        log(f"ingesting {len(docs)} SciFact abstracts")
        ingest = run_stack(stack, [folder], "scifact", timeout=4 * 3600)
        out["ingest"] = {"documents": ingest["documents"], "chunks": ingest["chunks"], "wall_s": rnd(ingest["wall_s"], 1),
                         "documents_per_min": rnd(ingest["documents"] / ingest["wall_s"] * 60, 1)}
        log("judging the base model through the stack")
        out["base"] = judge(ctx, stack, queries, qrels)

        pairs_file = write_pairs(train_pairs(), scratch_dir("finetune-pairs") / "scifact-train.jsonl")
        log(f"model train --pairs {pairs_file} (the embed worker's job)")
        t = time.perf_counter()
        trained = cli_json(stack, "model", "train", "--pairs", str(pairs_file), "--epochs", str(args.epochs),
                           "--batch-size", str(args.batch_size), "--held-out", str(args.held_out), timeout=8 * 3600)
        out["train"] = {"wall_s": rnd(time.perf_counter() - t, 1), "version": trained.get("version"),
                        "status": trained.get("status"), "metrics": trained.get("metrics"),
                        "error": trained.get("error"), "progress": trained.get("progress")}
        log(f"train: {out['train']}")
        if trained.get("status") != "candidate":
            out["status"] = "not a candidate"
            return out
        log(f"model activate {trained['version']} (re-embeds every chunk)")
        t = time.perf_counter()
        activated = cli_json(stack, "model", "activate", str(trained["version"]), timeout=4 * 3600)
        out["activate"] = {"wall_s": rnd(time.perf_counter() - t, 1),
                           **{k: activated.get(k) for k in ("version", "points", "points_reembedded", "seconds")}}
        log("judging the fine-tuned model through the stack")
        out["finetuned"] = judge(ctx, stack, queries, qrels)
        out["status"] = "ok"
        out["targets"] = {
            "dense_above_base": out["finetuned"]["dense"]["ndcg@10"] > out["base"]["dense"]["ndcg@10"],
            "hybrid_at_least_0.75": out["finetuned"]["hybrid"]["ndcg@10"] >= 0.75,
        }
    finally:
        out["load_average_end"] = load_average()
        stack.stop()
        CLEANUP.run()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--held-out", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    args = ap.parse_args()
    install_signal_handlers()
    out = run(args)
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
