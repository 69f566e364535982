"""Full-SciFact retrieval quality outside the pipeline, with the pipeline's own retrieval code.

The 5,183 abstracts (title + text, embedded whole, as MTEB does) and the 300 test queries are
encoded once with ``documind.embedding.Encoder`` and cached (``--cache``, default
``/tmp/documind-scifact-vectors``); points are built with the search service's BM25 code
(``documind_search.keywords``) and searched through ``documind_search.vector_index.VectorIndex``
in Qdrant local mode in memory — the same tokenizer, sparse vectors with Qdrant's IDF modifier,
prefetch and fusion as the service — for every mode: dense, keyword, hybrid with RRF and with
DBSF. It tunes the tokenizer and fusion in minutes, where the pipeline needs hours for the
full corpus; ``bench.search`` measures the pipeline itself.

    .venv/bin/python -m bench.retrieval_eval [--cache DIR] [--k1 1.2] [--b 0.75] [--avg-len 100]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import load_scifact, log, scifact_text
from bench.search import PUBLISHED, evaluate


def cached_vectors(
    cache: Path, docs: list[dict], queries: dict[str, str], model_path: Path | None = None, backend: str = "torch",
) -> tuple[np.ndarray, np.ndarray]:
    """``model_path``: a fine-tuned model's folder (``bench.finetune``) or an ONNX export
    (``backend`` onnx-int8 / onnx-fp32, ``bench.onnx_backend``); default the packaged model."""
    if model_path is not None:
        cache = cache / ("model-" + model_path.resolve().as_posix().strip("/").replace("/", "_"))
    if backend != "torch":
        cache = cache / backend
    dfile, qfile, ids = cache / "dvec.npy", cache / "qvec.npy", cache / "ids.json"
    want = {"docs": [str(d["_id"]) for d in docs], "queries": list(queries)}
    if dfile.exists() and qfile.exists() and ids.exists() and json.loads(ids.read_text()) == want:
        return np.load(dfile), np.load(qfile)
    from documind.embedding import Encoder

    log(f"retrieval_eval: encoding {len(docs)} abstracts and {len(queries)} queries (cached in {cache})")
    enc = Encoder("all-MiniLM-L6-v2", batch_size=16, path=model_path, backend=backend)
    qv = enc.encode(list(queries.values()))
    dv = enc.encode([scifact_text(d) for d in docs])
    cache.mkdir(parents=True, exist_ok=True)
    np.save(dfile, dv)
    np.save(qfile, qv)
    ids.write_text(json.dumps(want))
    return dv, qv


def run(args: argparse.Namespace) -> dict[str, Any]:
    from qdrant_client import QdrantClient

    from documind_search.filters import SearchFilters
    from documind_search.keywords import Bm25Params, default_tokenizer, document_vector, query_vector
    from documind_search.vector_index import FusionMethod, Point, SearchMode, VectorIndex

    docs, queries, qrels = load_scifact()
    if args.subset:
        # The quick bench's selection: seeded test queries, their relevant documents + random
        # others. Chosen before encoding, so a subset run encodes only what it searches.
        import random

        from bench.common import scifact_subset

        nd, nq = args.subset
        keep = sorted(random.Random(11).sample(sorted(queries), min(nq, len(queries))), key=int)
        queries, qrels = {q: queries[q] for q in keep}, {q: qrels[q] for q in keep}
        docs = scifact_subset(docs, qrels, nd)
    model_path = getattr(args, "model_path", None)
    dv, qv = cached_vectors(Path(args.cache), docs, queries, Path(model_path) if model_path else None,
                            getattr(args, "backend", "torch"))
    params = Bm25Params(k1=args.k1, b=args.b, avg_len=args.avg_len)
    tok = default_tokenizer()
    lengths = [len(tok.tokens(scifact_text(d))) for d in docs]
    index = VectorIndex(QdrantClient(location=":memory:"), "scifact", "all-MiniLM-L6-v2", 384)
    t = time.perf_counter()
    points = [
        Point(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, str(d["_id"]))),
            vector=dv[i].tolist(),
            sparse=document_vector(scifact_text(d), params, tok),
            payload={"tenant": "scifact", "sid": str(d["_id"])},
        )
        for i, d in enumerate(docs)
    ]
    for start in range(0, len(points), 512):
        index.upsert(points[start : start + 512])
    log(f"retrieval_eval: indexed {len(points)} abstracts in {time.perf_counter() - t:.1f} s")
    flt = SearchFilters(tenant="scifact")
    qtexts = list(queries.items())
    configs = {
        "dense": (SearchMode.DENSE, FusionMethod.RRF),
        "keyword": (SearchMode.KEYWORD, FusionMethod.RRF),
        "hybrid_rrf": (SearchMode.HYBRID, FusionMethod.RRF),
        "hybrid_dbsf": (SearchMode.HYBRID, FusionMethod.DBSF),
    }
    out: dict[str, Any] = {
        "documents": len(docs), "queries": len(queries), "bm25": {"k1": params.k1, "b": params.b, "avg_len": params.avg_len}, "prefetch": args.prefetch,
        "mean_tokens_per_abstract": round(float(np.mean(lengths)), 1), "published": PUBLISHED,
    }
    for name, (mode, fusion) in configs.items():
        if args.modes and name not in args.modes:
            continue
        t = time.perf_counter()
        result: dict[str, list[str]] = {}
        for i, (qid, text) in enumerate(qtexts):
            hits = index.search(
                filters=flt, limit=100, mode=mode, dense=qv[i].tolist(), sparse=query_vector(text, tok),
                fusion=fusion, prefetch_limit=args.prefetch,
            )
            result[qid] = [h.payload["sid"] for h in hits]
        out[name] = evaluate(result, qrels)
        out[name]["seconds"] = round(time.perf_counter() - t, 1)
        log(f"retrieval_eval: {name}: {out[name]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="/tmp/documind-scifact-vectors")
    ap.add_argument("--k1", type=float, default=1.2)
    ap.add_argument("--b", type=float, default=0.75)
    ap.add_argument("--avg-len", type=float, default=100.0)
    ap.add_argument("--prefetch", type=int, default=100, help="candidates per side in hybrid")
    ap.add_argument("--subset", nargs=2, type=int, metavar=("DOCS", "QUERIES"),
                    help="the quick bench's subset instead of the full corpus (e.g. 150 75)")
    ap.add_argument("--modes", nargs="*", default=None, help="dense keyword hybrid_rrf hybrid_dbsf (default: all)")
    ap.add_argument("--model-path", default=None, help="a fine-tuned model folder (default: the packaged model)")
    ap.add_argument("--backend", default="torch", choices=["torch", "onnx-int8", "onnx-fp32"],
                    help="how --model-path is run (an ONNX export: `documind model export-onnx`)")
    ap.add_argument("--out", default=None, help="write the JSON here too")
    args = ap.parse_args()
    out = run(args)
    text = json.dumps(out, indent=2, default=str)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
