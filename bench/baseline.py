"""The plain single-process pipeline DocuMind is compared with: for each file, unstructured
``partition`` (the same strategy choice as the ingest service: ``fast`` for PDFs with an
OCR fallback when there is no text layer, ``ocr_only`` for images, the default otherwise)
-> ``chunk_by_title`` (1000 characters, the same parameters as the ingest service) ->
``SentenceTransformer.encode`` (batch 32, normalised) -> upsert into Qdrant in memory. No
database, no broker, no status, no validation.

It runs as a process of its own, so that its peak RSS and CPU time are its own, and serves
several requests (imports and model load paid once, warm like the stack)::

    python -m bench.baseline          # prints {"ready": ...}; then one JSON request a line on stdin

Request: {"files": [paths], "out": path, "fresh": bool (new empty index first),
"queries": {"queries": {qid: text}, "latency": [qid...]} or null, "top_k": 300}. The answer
(written to ``out``, then {"done": out} on stdout): per-document timings (seconds from the
start of the request, as if every file arrived at once), totals, CPU seconds of the request,
peak RSS so far and, with queries, the ranked documents per query over the whole index and
each query's latency."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import OFFLINE, WARMUP_TEXT, model_path, peak_rss_mb

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


def _cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


class Pipeline:
    def __init__(self, scratch: Path) -> None:
        t = time.perf_counter()
        from qdrant_client import QdrantClient, models
        from sentence_transformers import SentenceTransformer
        from unstructured.chunking.title import chunk_by_title
        from unstructured.partition.auto import partition

        self.models, self.partition, self.chunk_by_title = models, partition, chunk_by_title
        self.model = SentenceTransformer(str(model_path()), device="cpu")
        self.client = QdrantClient(location=":memory:")
        self.fresh()
        # Warm-up like the stack's: imports, sentence splitter, model (not timed).
        warm = scratch / "baseline-warmup.txt"
        warm.write_text(WARMUP_TEXT)
        self.encode(chunk(partition_file(warm, partition), chunk_by_title))
        warm.unlink()
        self.setup_s = time.perf_counter() - t

    def fresh(self) -> None:
        if self.client.collection_exists("chunks"):
            self.client.delete_collection("chunks")
        self.client.create_collection(
            "chunks", vectors_config=self.models.VectorParams(size=384, distance=self.models.Distance.COSINE))

    def encode(self, texts: list[str]):  # noqa: ANN201
        return self.model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)

    def ingest(self, files: list[Path]) -> dict[str, Any]:
        models = self.models
        cpu0 = _cpu()
        docs = []
        totals = {"partition_s": 0.0, "chunk_s": 0.0, "encode_s": 0.0, "index_s": 0.0}
        t0 = time.perf_counter()
        for path in files:
            rec: dict[str, Any] = {"name": path.name, "status": "completed", "chunks": 0, "error": None}
            try:
                t = time.perf_counter()
                elements = partition_file(path, self.partition)
                t1 = time.perf_counter()
                texts = chunk(elements, self.chunk_by_title)
                t2 = time.perf_counter()
                t3 = t4 = t2
                if texts:
                    vectors = self.encode(texts)
                    t3 = time.perf_counter()
                    self.client.upsert("chunks", points=[
                        models.PointStruct(id=str(uuid.uuid4()), vector=v.tolist(),
                                           payload={"source_name": path.name, "text": txt})
                        for v, txt in zip(vectors, texts)
                    ])
                    t4 = time.perf_counter()
                else:
                    rec["status"], rec["error"] = "failed", "no text"
                totals["partition_s"] += t1 - t
                totals["chunk_s"] += t2 - t1
                totals["encode_s"] += t3 - t2
                totals["index_s"] += t4 - t3
                rec["chunks"] = len(texts)
            except Exception as exc:  # noqa: BLE001 - a bad input fails that document only
                rec["status"], rec["error"] = "failed", f"{type(exc).__name__}: {str(exc)[:200]}"
            rec["done_s"] = round(time.perf_counter() - t0, 4)
            docs.append(rec)
            print(f"baseline: {len(docs)}/{len(files)} {path.name} {rec['status']} {rec['done_s']:.1f}s",
                  file=sys.stderr, flush=True)
        return {
            "files": len(files),
            "wall_s": round(time.perf_counter() - t0, 3),
            "documents": docs,
            "totals": {k: round(v, 3) for k, v in totals.items()},
            "chunks": sum(d["chunks"] for d in docs),
            "cpu_s": round(_cpu() - cpu0, 2),
            "peak_rss_mb": peak_rss_mb(),
        }

    def search(self, spec: dict[str, Any], top_k: int) -> dict[str, Any]:
        results, latency = {}, {}
        for qid, text in spec["queries"].items():
            t = time.perf_counter()
            vec = self.encode([text])[0].tolist()
            hits = self.client.query_points("chunks", query=vec, limit=top_k, with_payload=True).points
            latency[qid] = time.perf_counter() - t
            ranked: dict[str, float] = {}
            for h in hits:
                ranked.setdefault(Path(h.payload["source_name"]).stem, float(h.score))
            results[qid] = ranked
        lat10 = []
        for qid in spec.get("latency", []):
            t = time.perf_counter()
            vec = self.encode([spec["queries"][qid]])[0].tolist()
            self.client.query_points("chunks", query=vec, limit=10, with_payload=True)
            lat10.append(time.perf_counter() - t)
        return {"results": results, "latency_s": latency, "latency_top10_s": lat10}


def main() -> None:
    for k, v in OFFLINE.items():
        os.environ.setdefault(k, v)
    scratch = Path(os.environ.get("TMPDIR", "/tmp"))
    pipe = Pipeline(scratch)
    print(json.dumps({"ready": True, "setup_s": round(pipe.setup_s, 3)}), flush=True)
    first = True
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        if req.get("fresh"):
            pipe.fresh()
        out = pipe.ingest([Path(p) for p in req["files"]])
        out["setup_s"] = round(pipe.setup_s, 3) if first else 0.0
        first = False
        if req.get("queries"):
            out["search"] = pipe.search(req["queries"], int(req.get("top_k", 300)))
        Path(req["out"]).write_text(json.dumps(out))
        print(json.dumps({"done": req["out"]}), flush=True)


if __name__ == "__main__":
    main()
