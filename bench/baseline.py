"""The plain single-process pipeline DocuMind is compared with: for each file, unstructured
``partition`` (the same strategy choice as the ingest service: ``fast`` for PDFs with an
OCR fallback when there is no text layer, ``ocr_only`` for images, the default otherwise)
-> ``chunk_by_title`` (1000 characters, the same parameters as the ingest service) ->
``SentenceTransformer.encode`` (batch 32, normalised) -> upsert into Qdrant in memory. No
database, no broker, no status, no validation.

Run as its own process so its peak RSS and CPU time are its own::

    python -m bench.baseline --files LIST.txt --out OUT.json [--queries Q.json --top-k 300]
        [--save-points A.npz] [--load-points A.npz ...]

LIST.txt: one path a line. Q.json: {"queries": {qid: text}, "latency": [qid...]}. Writes
per-document timings (seconds from the start of processing, as if every file arrived at
once), totals, peak RSS, CPU seconds and, with queries, the ranked documents per query and
each query's latency. ``--save-points`` / ``--load-points`` let a second run over the other
half of a data set search the whole of it (loaded after the timed part)."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import uuid
from pathlib import Path

from bench.common import OFFLINE, WARMUP_TEXT, model_path

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".heic"}


def partition_file(path: Path, partition) -> list:  # noqa: ANN001
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return partition(filename=str(path), strategy="ocr_only", languages=["eng"])
    if suffix == ".pdf":
        from pypdf import PdfReader

        try:
            pages = len(PdfReader(str(path)).pages)
        except Exception:  # noqa: BLE001
            pages = 1
        elements = partition(filename=str(path), strategy="fast", languages=["eng"])
        if sum(len(e.text or "") for e in elements) < 20 * max(pages, 1):
            elements = partition(filename=str(path), strategy="ocr_only", languages=["eng"])
        return elements
    return partition(filename=str(path), languages=["eng"])


def chunk(elements: list, chunk_by_title) -> list[str]:  # noqa: ANN001
    if not elements:
        return []
    chunks = chunk_by_title(elements, max_characters=1000, new_after_n_chars=800,
                            combine_text_under_n_chars=200, overlap=0, multipage_sections=True)
    return [t for t in (c.text.replace("\x00", "").strip() for c in chunks) if t]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--queries", type=Path, default=None)
    ap.add_argument("--top-k", type=int, default=300)
    ap.add_argument("--save-points", type=Path, default=None, help="write the indexed vectors here (.npz)")
    ap.add_argument("--load-points", type=Path, nargs="*", default=[],
                    help="after the timed part, add these saved points before the queries")
    a = ap.parse_args()
    import os

    for k, v in OFFLINE.items():
        os.environ.setdefault(k, v)

    t_setup = time.perf_counter()
    from qdrant_client import QdrantClient, models
    from sentence_transformers import SentenceTransformer
    from unstructured.chunking.title import chunk_by_title
    from unstructured.partition.auto import partition

    model = SentenceTransformer(str(model_path()), device="cpu")
    client = QdrantClient(location=":memory:")
    client.create_collection("chunks", vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE))

    def encode(texts: list[str]):  # noqa: ANN202
        return model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)

    # Warm-up like the stack's: imports, sentence splitter, model (not timed below).
    warm = Path(a.out).with_suffix(".warmup.txt")
    warm.write_text(WARMUP_TEXT)
    encode(chunk(partition_file(warm, partition), chunk_by_title))
    warm.unlink()
    setup_s = time.perf_counter() - t_setup

    files = [Path(line) for line in a.files.read_text().splitlines() if line.strip()]
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    rc0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    docs = []
    totals = {"partition_s": 0.0, "chunk_s": 0.0, "encode_s": 0.0, "index_s": 0.0}
    t0 = time.perf_counter()
    for path in files:
        rec = {"name": path.name, "status": "completed", "chunks": 0, "error": None}
        try:
            t = time.perf_counter()
            elements = partition_file(path, partition)
            t1 = time.perf_counter()
            texts = chunk(elements, chunk_by_title)
            t2 = time.perf_counter()
            if texts:
                vectors = encode(texts)
                t3 = time.perf_counter()
                client.upsert("chunks", points=[
                    models.PointStruct(id=str(uuid.uuid4()), vector=v.tolist(),
                                       payload={"source_name": path.name, "text": txt})
                    for v, txt in zip(vectors, texts)
                ])
                t4 = time.perf_counter()
            else:
                t3 = t4 = t2
                rec["status"] = "failed"
                rec["error"] = "no text"
            totals["partition_s"] += t1 - t
            totals["chunk_s"] += t2 - t1
            totals["encode_s"] += t3 - t2
            totals["index_s"] += t4 - t3
            rec["chunks"] = len(texts)
        except Exception as exc:  # noqa: BLE001 - a bad input fails that document only
            rec["status"] = "failed"
            rec["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        rec["done_s"] = round(time.perf_counter() - t0, 4)
        docs.append(rec)
        print(f"baseline: {len(docs)}/{len(files)} {path.name} {rec['status']} {rec['done_s']:.1f}s",
              file=sys.stderr, flush=True)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    rc1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {
        "files": len(files),
        "setup_s": round(setup_s, 3),
        "wall_s": round(wall, 3),
        "documents": docs,
        "totals": {k: round(v, 3) for k, v in totals.items()},
        "chunks": sum(d["chunks"] for d in docs),
        "cpu_s": round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
                       + (rc1.ru_utime - rc0.ru_utime) + (rc1.ru_stime - rc0.ru_stime), 2),
        "peak_rss_mb": round(ru1.ru_maxrss / 1024, 1),
    }
    if a.save_points or a.load_points:
        import numpy as np

        if a.save_points:
            pts, offset = [], None
            while True:
                batch, offset = client.scroll("chunks", limit=1000, offset=offset, with_vectors=True, with_payload=True)
                pts.extend(batch)
                if offset is None:
                    break
            np.savez(a.save_points, vectors=np.asarray([p.vector for p in pts], dtype=np.float32),
                     names=np.asarray([p.payload["source_name"] for p in pts]))
        for f in a.load_points:
            data = np.load(f)
            points = [models.PointStruct(id=str(uuid.uuid4()), vector=v.tolist(), payload={"source_name": str(n)})
                      for v, n in zip(data["vectors"], data["names"])]
            for i in range(0, len(points), 1000):
                client.upsert("chunks", points=points[i : i + 1000])
    if a.queries:
        spec = json.loads(a.queries.read_text())
        results, latency = {}, {}
        for qid, text in spec["queries"].items():
            t = time.perf_counter()
            vec = encode([text])[0].tolist()
            hits = client.query_points("chunks", query=vec, limit=a.top_k, with_payload=True).points
            latency[qid] = time.perf_counter() - t
            ranked: dict[str, float] = {}
            for h in hits:
                doc = Path(h.payload["source_name"]).stem
                ranked.setdefault(doc, float(h.score))
            results[qid] = ranked
        lat10 = []
        for qid in spec.get("latency", []):
            t = time.perf_counter()
            vec = encode([spec["queries"][qid]])[0].tolist()
            client.query_points("chunks", query=vec, limit=10, with_payload=True)
            lat10.append(time.perf_counter() - t)
        out["search"] = {"results": results, "latency_s": latency, "latency_top10_s": lat10}
    a.out.write_text(json.dumps(out))


if __name__ == "__main__":
    main()
