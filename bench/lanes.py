"""Priority lanes: how long an interactive upload takes to become searchable alone, behind a
bulk import (the import on the bulk lane, the upload on the interactive one), and, as the
control, behind the same import on the same lane (what first-in-first-out would give).

Each probe is one small text document uploaded with ``documind ingest FILE --wait``; its
time to searchable is ``completed_at - created_at`` from the database. The backlog is a folder
of ``lanes_backlog_docs`` text documents (``lanes_chunks_per_doc`` chunks each) sent with
``documind ingest FOLDER`` (bulk lane, no wait) just before the probe. The stack is the real
distributed mode (ingest, embed, search workers, 1 process x 2 threads each); the backlog is
drained before the next probe."""

from __future__ import annotations

import json
import uuid
import zlib
from pathlib import Path
from typing import Any

from bench.common import Context, Stack, chunk_texts, log, median, ratio, rnd

REDIS_DB = 11  # bench/common.REDIS_DBS use 7-10; integration tests 12-14


def _write_docs(folder: Path, n: int, chunks_per_doc: int, seed: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    texts = chunk_texts(n * chunks_per_doc, seed=seed)
    paths = []
    for i in range(n):
        body = "\n\n".join(texts[i * chunks_per_doc : (i + 1) * chunks_per_doc])
        p = folder / f"doc-{seed}-{i:04}.txt"
        p.write_text(f"Document {seed}-{i} {uuid.uuid4().hex}\n\n{body}\n")
        paths.append(p)
    return paths


def _tts(stack: Stack, doc_id: str) -> float:
    (sec,) = stack.sql(
        "SELECT EXTRACT(EPOCH FROM completed_at - created_at) FROM documents WHERE id = :i AND status = 'completed'",
        i=doc_id,
    )[0]
    return float(sec)


def _probe(stack: Stack, path: Path, *extra: str) -> float:
    out = stack.cli("ingest", str(path), "--wait", "--json", *extra, timeout=1800)
    (doc,) = json.loads(out.stdout)
    if doc["status"] != "completed":
        raise RuntimeError(f"probe {path.name} ended {doc['status']}: {doc['error']}")
    return _tts(stack, doc["id"])


def _behind_backlog(stack: Stack, root: Path, tag: str, p: dict[str, Any], probe_lane: str) -> dict[str, Any]:
    backlog = _write_docs(root / f"backlog-{tag}", p["lanes_backlog_docs"], p["lanes_chunks_per_doc"], seed=zlib.crc32(tag.encode()) % 10_000)
    (probe,) = _write_docs(root / f"probe-{tag}", 1, 1, seed=zlib.crc32(tag.encode()) % 10_000 + 1)
    sent = json.loads(stack.cli("ingest", str(backlog[0].parent), "--json").stdout)
    ids = [d["id"] for d in sent]
    tts = _probe(stack, probe, "--lane", probe_lane)
    done_then = stack.sql(
        "SELECT count(*) FROM documents WHERE id = ANY(:ids) AND status = 'completed'", ids=ids
    )[0][0]
    stack.wait_ids_final(ids, timeout=1800)
    backlog_s = stack.sql(
        "SELECT EXTRACT(EPOCH FROM max(completed_at) - min(created_at)) FROM documents WHERE id = ANY(:ids)", ids=ids
    )[0][0]
    return {"probe_s": rnd(tts), "backlog_done_when_probe_finished": done_then, "backlog_docs": len(ids),
            "backlog_drain_s": rnd(float(backlog_s))}


def measure(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    stack = Stack(label="lanes", redis_db=REDIS_DB)
    stack.start({"ingest": (1, 2), "embed": (1, 2), "search": (1, 2)})
    try:
        root = stack.root / "docs"
        (warm,) = _write_docs(root / "warm", 1, 2, seed=1)
        _probe(stack, warm)  # loads the parsers and the model in every worker
        alone = [_probe(stack, f) for f in _write_docs(root / "alone", p["lanes_repeats"], 1, seed=2)]
        log(f"lanes: alone {alone}")
        with_lanes, control = [], []
        for r in range(p["lanes_repeats"]):
            with_lanes.append(_behind_backlog(stack, root, f"lane{r}", p, "interactive"))
            control.append(_behind_backlog(stack, root, f"fifo{r}", p, "bulk"))
            log(f"lanes: repeat {r}: interactive {with_lanes[-1]} / same lane {control[-1]}")
        a = median(alone)
        b = median([x["probe_s"] for x in with_lanes])
        c = median([x["probe_s"] for x in control])
        return {
            "status": "ok",
            "alone_s": [rnd(x) for x in alone],
            "behind_backlog_interactive": with_lanes,
            "behind_backlog_same_lane": control,
            "median_alone_s": rnd(a),
            "median_behind_backlog_s": rnd(b),
            "median_same_lane_s": rnd(c),
            "ratio_backlog_to_alone": ratio(b, a),
            "ratio_same_lane_to_alone": ratio(c, a),
        }
    finally:
        stack.stop()
