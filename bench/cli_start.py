"""Start-up of an embedded-mode command: ``documind search`` alone vs with ``documind serve``.

Embedded mode (the no-server default) runs the services inside the command's process, so a
search pays for importing torch, sentence-transformers and qdrant-client and loading the
model before a query that takes milliseconds. ``documind serve`` keeps one embedded process
running and commands send it their request. A data folder of ``cli_docs`` SciFact
chunk-sized documents is ingested once; then ``cli_repeats`` searches (distinct queries,
so no cache hits) are timed as whole commands (process start to exit) in blocks: alone,
served, alone, served — load drifting during the run weighs on both sides alike. The floor
is a bare ``python -c pass`` of the same interpreter, timed in the same blocks."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import DOCUMIND, base_env, chunk_texts, log, ratio, scratch_dir, summary


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return elapsed


def _serve(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    out = log_path.open("w")
    proc = subprocess.Popen([DOCUMIND, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while "serving" not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"documind serve did not come up: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)
    return proc


def measure(ctx: Any) -> dict[str, Any]:
    p = ctx.params
    n_docs, repeats = p["cli_docs"], p["cli_repeats"]
    root = scratch_dir("cli-start")
    folder = root / "docs"
    folder.mkdir()
    texts = chunk_texts(n_docs + 4 * repeats, seed=23)
    for i, text in enumerate(texts[:n_docs]):
        (folder / f"doc-{i:04d}.txt").write_text(text + "\n")
    queries = iter(t[:200] for t in texts[n_docs:])
    env = base_env({"DOCUMIND_DATA_DIR": str(root / "data"), "DOCUMIND_MODE": "embedded"})
    started = time.perf_counter()
    subprocess.run([DOCUMIND, "ingest", str(folder), "--wait", "--json"], env=env, capture_output=True, check=True,
                   timeout=ctx.timeout(1800))
    log(f"cli_start: {n_docs} documents ingested in {time.perf_counter() - started:.1f} s")

    alone: list[float] = []
    served: list[float] = []
    floor: list[float] = []
    for block in range(2):
        for _ in range(repeats):
            alone.append(_timed([DOCUMIND, "search", next(queries), "--json"], env))
            floor.append(_timed([sys.executable, "-c", "pass"], env))
        server = _serve(env, root / f"serve-{block}.log")
        try:
            for _ in range(repeats):
                served.append(_timed([DOCUMIND, "search", next(queries), "--json"], env))
                floor.append(_timed([sys.executable, "-c", "pass"], env))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=120)
    a, s, f = summary(alone, 3), summary(served, 3), summary(floor, 3)
    log(f"cli_start: search alone p50 {a.get('p50')} s, with serve p50 {s.get('p50')} s, python floor {f.get('p50')} s")
    return {
        "status": "ok",
        "documents": n_docs,
        "search_alone_s": a,
        "search_with_serve_s": s,
        "python_start_s": f,
        "ratio_served_to_alone_p50": ratio(s.get("p50"), a.get("p50")),
        "goal": "a search command in about a second (with documind serve running)",
        "met": bool(s.get("p50") is not None and s["p50"] <= 1.2),
        "notes": [
            "Whole commands, process start to exit; distinct queries (no cache hits).",
            "Alone = the embedded default: the command starts the services in-process.",
        ],
    }
