"""Embedding throughput against ``SentenceTransformer.encode`` on the same chunks.

A. The bare encoder: ``documind.embedding.Encoder.encode`` vs ``SentenceTransformer.encode``
   (same model folder, batch size 32, normalised vectors), alternating over the repeats.
B. The embed service's actor body: ``documind_embed.embedder.ChunkEmbedder.embed`` called
   in this process for every 128-chunk range of a document, against a scratch Postgres
   database (read chunk text, encode, write vectors, stage status and progress, send
   ``IndexChunks`` to a scratch Redis db) vs one ``SentenceTransformer.encode`` over the
   same texts.

The embed stage through the real distributed stack (messages, ``documind worker embed``
processes) is measured by the scaling measurement (its "workers" series, 1 process), next to
the same baseline; the summary table shows it in this measurement's row group.

Ratio = baseline seconds / DocuMind seconds for the same chunks = throughput ratio
(goal >= 0.9)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from bench.common import (
    REDIS_DBS,
    Context,
    ScratchDatabase,
    chunk_texts,
    flush_redis,
    log,
    median,
    model_path,
    quiet_logs,
    ratio,
    redis_url,
    rnd,
    scratch_dir,
)

MODEL = "all-MiniLM-L6-v2"
BATCH = 32


_MODEL: list = []


def get_baseline_model():  # noqa: ANN201
    """The baseline SentenceTransformer, loaded once per run (this process)."""
    if not _MODEL:
        from sentence_transformers import SentenceTransformer

        _MODEL.append(SentenceTransformer(str(model_path()), device="cpu"))
    return _MODEL[0]


def st_encode(model, texts: list[str]):  # noqa: ANN001, ANN201
    return model.encode(texts, batch_size=BATCH, normalize_embeddings=True, convert_to_numpy=True,
                        show_progress_bar=False)


def token_stats(model, texts: list[str]) -> dict[str, Any]:  # noqa: ANN001
    tok = model.tokenizer
    counts = [len(ids) for ids in tok(texts, add_special_tokens=True)["input_ids"]]
    return {
        "chunks": len(texts),
        "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
        "mean_word_pieces": round(sum(counts) / len(counts), 1),
        "over_window": sum(c > 256 for c in counts),
    }


class TimedEncoder:
    """Wraps an Encoder to split ChunkEmbedder's time into encode vs the rest."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.seconds = 0.0

    def encode(self, texts):  # noqa: ANN001, ANN201
        t = time.perf_counter()
        try:
            return self.inner.encode(texts)
        finally:
            self.seconds += time.perf_counter() - t


def _bare(ctx: Context, st, enc, texts: list[str]) -> dict[str, Any]:  # noqa: ANN001
    import numpy as np

    repeats = ctx.params["embed_repeats"]
    st_s, enc_s, pairs = [], [], []
    v_st = v_enc = None
    for rep in range(repeats):
        order = ("st", "enc") if rep % 2 == 0 else ("enc", "st")
        times = {}
        for who in order:
            t = time.perf_counter()
            v = st_encode(st, texts) if who == "st" else enc.encode(texts)
            times[who] = time.perf_counter() - t
            if who == "st":
                v_st = v
            else:
                v_enc = v
        st_s.append(times["st"])
        enc_s.append(times["enc"])
        pairs.append(ratio(times["st"], times["enc"]))
        log(f"embed A: repeat {rep + 1}/{repeats}: SentenceTransformer {len(texts) / times['st']:.1f} chunks/s, "
            f"Encoder {len(texts) / times['enc']:.1f} chunks/s")
    diff = float(np.max(np.abs(np.asarray(v_st) - np.asarray(v_enc))))
    n = len(texts)
    return {
        "chunks": n,
        "repeats": repeats,
        "documind_chunks_per_s": rnd(n / median(enc_s), 2),
        "baseline_chunks_per_s": rnd(n / median(st_s), 2),
        "ratio": rnd(median(pairs)),
        "ratios": pairs,
        "max_abs_vector_difference": diff,
    }


def _embedder(ctx: Context, st, enc, texts: list[str]) -> dict[str, Any]:  # noqa: ANN001
    from sqlalchemy import update

    from documind.contracts import EmbedChunks
    from documind.db.engine import transaction
    from documind.db.models import Chunk, StageName
    from documind.runtime import build_runtime
    from documind.settings import load_settings
    from documind.status import Upload
    from documind_embed.embedder import ChunkEmbedder
    from documind_ingest.chunk_store import replace_chunks
    from documind_ingest.chunking import ChunkDraft

    repeats = ctx.params["embedder_repeats"]
    rdb = REDIS_DBS["embed"]
    flush_redis(rdb)
    db = ScratchDatabase("embed")
    runtime = None
    try:
        settings = load_settings(mode="distributed", data_dir=scratch_dir("embed"), database_url=db.url,
                                 redis_url=redis_url(rdb))
        runtime = build_runtime(settings, configure_logs=False)
        quiet_logs()
        reg = runtime.status.register(Upload("bench", "embed-bench.txt", uuid.uuid4().hex * 2, 1, "none"))
        doc_id, gen = reg.document_id, reg.generation
        drafts = [ChunkDraft(t, 0, None, None, []) for t in texts]
        replace_chunks(runtime.sessions, doc_id, gen, drafts)
        runtime.status.hand_off(doc_id, gen, StageName.EMBED, units_total=len(texts))
        timed = TimedEncoder(enc)
        embedder = ChunkEmbedder(runtime, timed)  # type: ignore[arg-type]
        step = settings.embed_chunks_per_message
        ranges = [(s, min(len(texts), s + step)) for s in range(0, len(texts), step)]
        st_s, emb_s, enc_s, pairs = [], [], [], []
        for rep in range(repeats):
            with transaction(runtime.sessions) as s:
                s.execute(update(Chunk).where(Chunk.document_id == doc_id).values(embedding=None, embedding_model=None))
            order = ("st", "emb") if rep % 2 == 0 else ("emb", "st")
            times = {}
            for who in order:
                t = time.perf_counter()
                if who == "st":
                    st_encode(st, texts)
                else:
                    timed.seconds = 0.0
                    done = sum(embedder.embed(EmbedChunks(document_id=doc_id, generation=gen, start=a, end=b))
                               for a, b in ranges)
                    if done != len(texts):
                        raise RuntimeError(f"ChunkEmbedder embedded {done} of {len(texts)} chunks")
                times[who] = time.perf_counter() - t
            st_s.append(times["st"])
            emb_s.append(times["emb"])
            enc_s.append(timed.seconds)
            pairs.append(ratio(times["st"], times["emb"]))
            log(f"embed B: repeat {rep + 1}/{repeats}: SentenceTransformer {len(texts) / times['st']:.1f} chunks/s, "
                f"ChunkEmbedder {len(texts) / times['emb']:.1f} chunks/s (encode {timed.seconds:.2f} of {times['emb']:.2f} s)")
        n = len(texts)
        return {
            "chunks": n,
            "messages": len(ranges),
            "repeats": repeats,
            "documind_chunks_per_s": rnd(n / median(emb_s), 2),
            "baseline_chunks_per_s": rnd(n / median(st_s), 2),
            "ratio": rnd(median(pairs)),
            "ratios": pairs,
            "encode_share": rnd(median([e / t for e, t in zip(enc_s, emb_s)])),
            "non_encode_ms_per_chunk": rnd(median([(t - e) * 1000 / n for e, t in zip(enc_s, emb_s)]), 3),
        }
    finally:
        if runtime is not None:
            runtime.close()
        db.close()
        flush_redis(rdb)


def measure(ctx: Context) -> dict[str, Any]:
    from documind.embedding import Encoder

    p = ctx.params
    log("embed: loading SentenceTransformer and documind Encoder")
    t = time.perf_counter()
    st = get_baseline_model()
    enc = Encoder(MODEL, batch_size=BATCH)
    texts = chunk_texts(max(p["embed_chunks"], p["embedder_chunks"]))
    warm = texts[:BATCH]
    st_encode(st, warm)
    enc.encode(warm)
    load_s = time.perf_counter() - t
    out: dict[str, Any] = {"status": "ok", "model_load_and_warmup_s": rnd(load_s, 2),
                           "workload": token_stats(st, texts[: p["embed_chunks"]])}
    errors = []
    try:
        out["bare_encoder"] = _bare(ctx, st, enc, texts[: p["embed_chunks"]])
    except Exception as exc:  # noqa: BLE001
        errors.append(f"bare encoder: {type(exc).__name__}: {exc}")
    try:
        out["chunk_embedder"] = _embedder(ctx, st, enc, texts[: p["embedder_chunks"]])
    except Exception as exc:  # noqa: BLE001
        errors.append(f"ChunkEmbedder: {type(exc).__name__}: {exc}")
    if errors:
        out["status"] = "partial" if ("bare_encoder" in out or "chunk_embedder" in out) else "error"
        out["error"] = "; ".join(errors)
    out["summary"] = {
        "encoder_ratio": out.get("bare_encoder", {}).get("ratio"),
        "chunk_embedder_ratio": out.get("chunk_embedder", {}).get("ratio"),
        "goal": 0.9,
    }
    out["notes"] = [
        "Chunks: pieces of SciFact abstracts cut at sentence ends to <= 1000 characters "
        "(like the ingest service's chunks), read from ../shared (beside the checkout) at run time.",
        "Both sides run in this one process with torch's default thread count; order alternates per repeat.",
        "The full embed stage through Redis and `documind worker embed` processes is in the scaling "
        "measurement ('workers' series).",
    ]
    return out
