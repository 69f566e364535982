"""The enrichment's cost: time to searchable with entity extraction, sentiment and quality on,
against the same stack with ``DOCUMIND_ENRICHMENT_ENABLED=false`` (goal: at most +25 %, ratio
<= 1.25). Since 2026-12-01 the chunks are enriched after the document is searchable
(``embed.finish_enrichment``): what remains in the figure is the competition of the previous
document's enrichment for the same workers and cores. For the "on" rounds the time to enriched
(upload to ``document_enrichment.enriched_at``) is reported beside it.

One distributed stack (ingest, embed, search: 1 process x 2 threads each). Each corpus document
is ingested alone (the next one only when it is final), so its time to searchable
(``completed_at - created_at``) is processing time, not time waiting behind other documents. The
embed and search workers are restarted with the setting flipped between rounds, in the order
off, on, on, off ... (so drifting load weighs on both sides alike), and every round uses a
tenant of its own (the same bytes under a new tenant are a new document). The next document
is ingested when the previous one is searchable, not when it is enriched: its enrichment runs
beside the next document's processing, as in a steady stream of uploads.

B (in process, less noisy): on the same chunk texts, ``ChunkEnricher.enrich`` against
``Encoder.encode`` (the embed stage's model work), alternating over the repeats: what share the
enrichment adds to the embed stage's compute. Chunks: the SciFact pieces of ``bench.common.
chunk_texts`` (read at run time, never copied into the repository)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.common import Context, DataMissing, Stack, chunk_texts, corpus_files, log, median, ratio, rnd

REDIS_DB = 10  # the scaling measurement's: measurements run one after the other, each flushes it


def _set_enrichment(stack: Stack, enabled: bool) -> None:
    stack.env["DOCUMIND_ENRICHMENT_ENABLED"] = "true" if enabled else "false"
    for name in ("embed", "search"):
        stack.stop_service(name)
        stack.start_service(name, 1, 2, wait=False)
    stack.wait_ready(["embed", "search"])


def _round(stack: Stack, files: list[Path], tenant: str, timeout_s: float) -> dict[str, float]:
    """Each file alone: seconds from registration to searchable, by file name."""
    import json

    out: dict[str, float] = {}
    for path in files:
        proc = stack.cli("ingest", str(path), "--tenant", tenant, "--json")
        (doc,) = json.loads(proc.stdout)
        stack.wait_ids_final([doc["id"]], timeout_s, poll=0.2)
        [(status, seconds)] = stack.sql(
            "SELECT status, EXTRACT(EPOCH FROM completed_at - created_at) FROM documents WHERE id = :id", id=doc["id"]
        )
        if status == "completed":
            out[path.name] = float(seconds)
    return out


def _enriched(stack: Stack, tenant: str, timeout_s: float) -> dict[str, float]:
    """Once every completed document of the round has its enrichment record (or the timeout
    passed): seconds from registration to enriched, by file name."""
    deadline = time.monotonic() + timeout_s
    query = (
        "SELECT d.source_name, EXTRACT(EPOCH FROM e.enriched_at - d.created_at) FROM documents d "
        "LEFT JOIN document_enrichment e ON e.document_id = d.id AND e.generation = d.generation "
        "WHERE d.tenant = :tenant AND d.status = 'completed'"
    )
    while True:
        rows = stack.sql(query, tenant=tenant)
        if all(s is not None for _, s in rows) or time.monotonic() > deadline:
            return {name: float(s) for name, s in rows if s is not None}
        time.sleep(0.5)


def in_process(n: int, repeats: int) -> dict[str, Any]:
    from documind.embedding import Encoder
    from documind_embed.enrichment import ChunkEnricher, ChunkText
    from documind_embed.entities import EntityExtractor, load_spacy
    from documind_embed.quality import WordList
    from documind_embed.sentiment import SentimentAnalyzer, load_vader

    texts = chunk_texts(n)
    enc = Encoder("all-MiniLM-L6-v2")
    enricher = ChunkEnricher(EntityExtractor(load_spacy()), SentimentAnalyzer(load_vader()), WordList(), enc.max_tokens)
    chunks = [ChunkText(str(i), i, t, None) for i, t in enumerate(texts)]
    enc.encode(texts[:8])
    enricher.enrich(chunks[:8])  # models loaded before timing
    encode_s, enrich_s = [], []
    for r in range(repeats):
        for side in (("encode", "enrich") if r % 2 == 0 else ("enrich", "encode")):
            started = time.perf_counter()
            if side == "encode":
                enc.encode(texts)
            else:
                enricher.enrich(chunks)
            (encode_s if side == "encode" else enrich_s).append(time.perf_counter() - started)
    ratios = [b / a for a, b in zip(encode_s, enrich_s)]
    return {
        "chunks": n, "encode_s": [rnd(x) for x in encode_s], "enrich_s": [rnd(x) for x in enrich_s],
        "enrich_ms_per_chunk": rnd(median(enrich_s) * 1000 / n), "encode_ms_per_chunk": rnd(median(encode_s) * 1000 / n),
        "ratio_enrich_to_encode": rnd(median(ratios)),
    }


def measure(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    try:
        local = in_process(p["enrich_chunks"], p["enrich_inprocess_repeats"])
        log(f"enrichment: in process {local}")
    except DataMissing as exc:
        local = {"status": "skipped", "error": str(exc)}
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
            tenant = f"r{i}{'on' if enabled else 'off'}"
            times = _round(stack, files, tenant, ctx.timeout(p["enrich_timeout_s"]))
            rounds.append({"enrichment": enabled, "seconds": {k: rnd(v) for k, v in times.items()}})
            if enabled:  # and the round's enrichment done before the next round begins
                rounds[-1]["enriched_s"] = {k: rnd(v) for k, v in _enriched(stack, tenant, ctx.timeout(300)).items()}
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
            enriched = [r["enriched_s"][n] for r in rounds if n in r.get("enriched_s", {})]
            row["to_enriched_s"] = rnd(median(enriched)) if enriched else None
        total_ratio = ratio(total_on, total_off)
        return {
            "status": "ok",
            "summary": {"ratio_total": total_ratio, "ratio_enrich_to_encode": local.get("ratio_enrich_to_encode")},
            "notes": [
                "time to searchable: each document alone, with vs without enrichment (restarted workers), "
                "rounds ordered off, on, on, off ...; enrichment runs after searchability, "
                "to_enriched_s is upload to the document's enrichment record",
                "in process: ChunkEnricher.enrich vs Encoder.encode on the same chunks",
            ],
            "in_process": local,
            "documents": len(names),
            "rounds": rounds,
            "per_document": per_doc,
            "total_off_s": rnd(total_off),
            "total_on_s": rnd(total_on),
            "ratio_total": total_ratio,
            "median_ratio": rnd(median([v["ratio"] for v in per_doc.values() if v["ratio"] is not None])),
            "goal": "ratio_total <= 1.25",
        }
    finally:
        stack.stop()
