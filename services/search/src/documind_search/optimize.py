"""``index optimize``: apply optimizer, HNSW and (optionally) scalar quantization settings to the
collection and measure before and after: point count, size (local folder on disk, or the
server's collection info), query latency p50 over a fixed query set, and recall@10 of the
normal search against exact search.

The fixed query set is the stored vectors of the first points in id order (no encoder
needed, identical across runs over the same data). Qdrant local mode accepts none of these
settings (it searches by brute force, always exact, and keeps no HNSW graph, optimizer or
quantized copy); the report says so instead of pretending a change."""

from __future__ import annotations

import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qdrant_client import models

from documind_search.vector_index import DENSE, VectorIndex

Quantization = Literal["scalar", "none"]

LOCAL_MODE_NOTES = [
    "Qdrant local mode ignores optimizers_config, hnsw_config and quantization_config: it searches "
    "by brute force over all vectors (every search is exact, so recall is 1.0 before and after)",
    "local mode has no vacuum: a deleted point's row is removed from its SQLite file at once, but "
    "the file does not shrink and the in-memory slot is reclaimed only when the folder is reopened",
]

# Vacuum segments once a tenth of their points are deleted (server default 0.2), even small ones.
OPTIMIZERS = models.OptimizersConfigDiff(deleted_threshold=0.1, vacuum_min_vector_number=100)
HNSW = models.HnswConfigDiff(m=16, ef_construct=128, payload_m=16)


@dataclass
class Optimizer:
    index: VectorIndex
    local_path: Path | None  # the local-mode folder; None on a Qdrant server
    query_count: int = 50
    top_k: int = 10

    def run(self, quantization: Quantization | None = None) -> dict[str, Any]:
        idx = self.index
        idx.ensure()
        collection = idx.alias_target() or idx.collection
        queries = self._query_set()
        before = self.measure(collection, queries)
        quant: Any = None
        if quantization == "scalar":
            quant = models.ScalarQuantization(
                scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
            )
        elif quantization == "none":
            quant = models.Disabled.DISABLED
        with idx.lock:
            idx.client.update_collection(
                collection, optimizers_config=OPTIMIZERS, hnsw_config=HNSW, quantization_config=quant
            )
        after = self.measure(collection, queries)
        return {
            "collection": collection,
            "mode": "local" if self.local_path is not None else "server",
            "applied": {
                "optimizers_config": OPTIMIZERS.model_dump(exclude_none=True),
                "hnsw_config": HNSW.model_dump(exclude_none=True),
                "quantization": quantization or "unchanged",
            },
            "before": before,
            "after": after,
            "notes": LOCAL_MODE_NOTES if self.local_path is not None else [
                "the server applies these settings in its background optimizers: segment rebuilds and "
                "vacuum may finish after this command returns; run it again to measure the settled state",
            ],
        }

    def _query_set(self) -> list[list[float]]:
        with self.index.lock:
            points, _ = self.index.client.scroll(
                self.index.collection, limit=self.query_count, with_payload=False, with_vectors=True
            )
        return [list(p.vector[DENSE]) for p in points if isinstance(p.vector, dict) and DENSE in p.vector]

    def measure(self, collection: str, queries: list[list[float]]) -> dict[str, Any]:
        idx = self.index
        latencies: list[float] = []
        recalls: list[float] = []
        for vector in queries:
            with idx.lock:
                t0 = time.perf_counter()
                approx = idx.client.query_points(
                    collection, query=vector, using=DENSE, limit=self.top_k, with_payload=False
                )
                latencies.append((time.perf_counter() - t0) * 1000)
                with warnings.catch_warnings():
                    # Local mode warns that search_params change nothing there; the notes say so.
                    warnings.simplefilter("ignore", UserWarning)
                    exact = idx.client.query_points(
                        collection, query=vector, using=DENSE, limit=self.top_k, with_payload=False,
                        search_params=models.SearchParams(exact=True),
                    )
            truth = {p.id for p in exact.points}
            if truth:
                recalls.append(len(truth & {p.id for p in approx.points}) / len(truth))
        info = idx.client.get_collection(collection)
        return {
            "points": idx.count(),
            "size_bytes": self._size_bytes(collection),
            "segments": info.segments_count,
            "indexed_vectors": info.indexed_vectors_count,
            "queries": len(queries),
            "latency_p50_ms": round(statistics.median(latencies), 3) if latencies else None,
            "recall_at_10": round(statistics.fmean(recalls), 4) if recalls else None,
        }

    def _size_bytes(self, collection: str) -> int | None:
        if self.local_path is None:
            return None  # the server's disk is not ours to walk; points and segments stand in
        folder = self.local_path / "collection" / collection
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0
