"""The ONNX Runtime backend of the encoder against torch (sentence-transformers), same texts,
same run, same thread count (issue goal: >= 2x chunks/s with <= 0.01 nDCG@10 loss on SciFact).

A. Export: the packaged model exported offline with ``documind.onnx_model.export`` (fp32, and
   int8 with dynamic quantization) into a scratch folder; seconds and file sizes.
B. Throughput: ``Encoder(backend=...)`` for torch, onnx-fp32 (reference) and onnx-int8 on the
   same chunk-like texts (SciFact abstracts cut to <= 1000 characters), batch 32, at 1 and at
   2 threads (torch.set_num_threads / ORT intra-op threads); the backends alternate within each
   repeat, ratio = torch seconds / backend seconds per repeat, median of repeats.
C. Quality: SciFact test split, dense nDCG@10 with ``bench.retrieval_eval`` (the search code's
   own Qdrant index), torch vs onnx-int8: every abstract and query encoded by each backend
   (fp32's vectors are torch's to cosine > 0.999: tests/unit/test_onnx_model.py). Quick mode: retrieval_eval's seeded subset; full mode: all 5,183 abstracts.

Goal row: int8/torch chunks/s >= 2.0 at every thread count measured, and nDCG@10 loss <= 0.01.

    .venv/bin/python -m bench.onnx_backend [--subset 150 75] [--chunks 128] [--repeats 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.common import Context, chunk_texts, load_average, log, median, model_path, rnd, scratch_dir

MODEL = "all-MiniLM-L6-v2"
BATCH = 32
SPEED_GOAL = 2.0
LOSS_GOAL = 0.01


def _export(folder: Path) -> dict[str, Any]:
    from documind.onnx_model import MODEL_FILE, export

    out: dict[str, Any] = {}
    for backend, int8 in (("onnx-fp32", False), ("onnx-int8", True)):
        t = time.perf_counter()
        export(model_path(), folder / backend, int8=int8)
        out[backend] = {"path": folder / backend, "seconds": rnd(time.perf_counter() - t, 1),
                        "model_mb": rnd((folder / backend / MODEL_FILE).stat().st_size / 2**20, 1)}
        log(f"onnx: exported {backend} in {out[backend]['seconds']} s ({out[backend]['model_mb']} MB)")
    return out


def _encoders(exports: dict[str, Any], threads: int) -> dict[str, Any]:
    from documind.embedding import Encoder

    encs = {"torch": Encoder(MODEL, batch_size=BATCH, threads=threads)}
    for backend, e in exports.items():
        encs[backend] = Encoder(f"{MODEL}-{backend}", batch_size=BATCH, threads=threads, path=e["path"],
                                dimension=384, backend=backend)
    return encs


def _throughput(exports: dict[str, Any], texts: list[str], threads: int, repeats: int) -> dict[str, Any]:
    import numpy as np
    import torch

    torch.set_num_threads(threads)  # torch's count is per process: set it for this series
    encs = _encoders(exports, threads)
    ref = None
    cosines = {}
    for name, enc in encs.items():
        vec = enc.encode(texts[:BATCH])  # load + warm up
        if ref is None:
            ref = vec
        cosines[name] = rnd(float(np.min(np.sum(vec * ref, axis=1))), 5)
    seconds: dict[str, list[float]] = {name: [] for name in encs}
    names = list(encs)
    for rep in range(repeats):
        order = names if rep % 2 == 0 else names[::-1]
        for name in order:
            torch.set_num_threads(threads)
            t = time.perf_counter()
            encs[name].encode(texts)
            seconds[name].append(time.perf_counter() - t)
        log(f"onnx B ({threads} thread(s)): repeat {rep + 1}/{repeats}: "
            + ", ".join(f"{n} {len(texts) / seconds[n][-1]:.1f}" for n in names) + " chunks/s")
    out: dict[str, Any] = {"threads": threads, "repeats": repeats, "load_average": load_average(),
                           "min_cosine_to_torch": cosines}
    for name in names:
        out[name] = {"chunks_per_s": rnd(len(texts) / median(seconds[name]), 2)}
        if name != "torch":
            per = [rnd(a / b) for a, b in zip(seconds["torch"], seconds[name])]
            out[name].update({"ratio_to_torch": rnd(median(per)), "ratios": per})
    return out


def _quality(exports: dict[str, Any], subset: list[int] | None, cache: Path) -> dict[str, Any]:
    from bench import retrieval_eval

    out: dict[str, Any] = {}
    for backend in ("torch", "onnx-int8"):  # fp32 is the speed reference only (its vectors are torch's)
        ns = argparse.Namespace(
            cache=str(cache), k1=1.2, b=0.75, avg_len=100.0, prefetch=100, subset=subset, modes=["dense"],
            model_path=None if backend == "torch" else str(exports[backend]["path"]), backend=backend,
        )
        t = time.perf_counter()
        res = retrieval_eval.run(ns)
        out[backend] = {**res["dense"], "seconds_with_encoding": rnd(time.perf_counter() - t, 1)}
        out["documents"], out["queries"] = res["documents"], res["queries"]
    for backend in ("onnx-int8",):
        out[backend]["ndcg@10_loss"] = rnd(out["torch"]["ndcg@10"] - out[backend]["ndcg@10"], 4)
    return out


def measure(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    folder = scratch_dir("onnx")
    out: dict[str, Any] = {"status": "ok", "batch_size": BATCH}
    exports = _export(folder)
    out["export"] = {k: {kk: vv for kk, vv in v.items() if kk != "path"} for k, v in exports.items()}
    texts = chunk_texts(p["onnx_chunks"])
    out["throughput"] = [_throughput(exports, texts, t, p["onnx_repeats"]) for t in p["onnx_threads"]]
    subset = p.get("onnx_scifact_subset")
    # Vectors are cached per model folder: the scratch exports are new each run, torch's are reused.
    out["quality"] = _quality(exports, subset, Path(p.get("onnx_cache", "/tmp/documind-scifact-vectors")))
    speed = min(t["onnx-int8"]["ratio_to_torch"] for t in out["throughput"])
    loss = out["quality"]["onnx-int8"]["ndcg@10_loss"]
    out["summary"] = {
        "int8_ratio_min_over_threads": speed, "int8_ndcg@10_loss": loss,
        "torch_ndcg@10": out["quality"]["torch"]["ndcg@10"], "int8_ndcg@10": out["quality"]["onnx-int8"]["ndcg@10"],
        "speed_goal": SPEED_GOAL, "loss_goal": LOSS_GOAL,
        "met": bool(speed >= SPEED_GOAL and loss <= LOSS_GOAL),
        "full_corpus": not subset,
    }
    out["notes"] = [
        "Throughput: one process, the backends alternate within each repeat; the same texts and batch size; "
        "torch and ONNX Runtime use the same number of intra-op threads.",
        "Quality: retrieval_eval's dense mode (Qdrant local, in memory) on vectors made by each backend.",
        "The default backend stays torch: an int8 version is activated like any other model version "
        "(`documind model export-onnx`, then `documind model activate N`).",
    ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--subset", nargs=2, type=int, metavar=("DOCS", "QUERIES"), default=None,
                    help="retrieval_eval's seeded subset instead of the full corpus (e.g. 150 75)")
    ap.add_argument("--cache", default="/tmp/documind-scifact-vectors")
    ap.add_argument("--out", default=None, help="write the JSON here too")
    args = ap.parse_args()
    from bench.common import CLEANUP, install_signal_handlers

    install_signal_handlers()
    params = {"onnx_chunks": args.chunks, "onnx_repeats": args.repeats, "onnx_threads": args.threads,
              "onnx_scifact_subset": args.subset, "onnx_cache": args.cache}
    ctx = Context(quick=bool(args.subset), params=params, selected=["onnx"])
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        out = {"started_at": started, "load_average_start": load_average(), "params": params, **measure(ctx)}
    finally:
        CLEANUP.run()
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
