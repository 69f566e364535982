"""Queue overhead: no-op messages per second through DocuMind's whole middleware stack
(``documind.runtime.build_runtime`` in distributed mode against a scratch Postgres database:
Redis broker, LogContext, Retries, the DeliveryCounter that counts every receipt, Results, ...) and
through a bare Dramatiq ``RedisBroker`` with Dramatiq's default middleware, on the same Redis.

Each side runs in a fresh child process (``python -m bench.queue_overhead child ...``): it enqueues N
messages (timed), then starts an in-process Dramatiq ``Worker`` on that one queue (same thread
count for both) and times until the actor has run N times. DocuMind's side logs at INFO, as a
deployed worker does (the lines go to a file in bench/out). The two sides alternate over the
repeats; the ratio is DocuMind / bare (goal >= 0.5)."""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import (
    REDIS_DBS,
    SCRATCH,
    Context,
    ScratchDatabase,
    base_env,
    flush_redis,
    log,
    median,
    ratio,
    redis_url,
    rnd,
)

QUEUE = "bench_noop"
DIAGNOSTICS = ("documind_no_receipts",)


def _child(mode: str, messages: int, threads: int, redis: str, db_url: str | None) -> dict[str, Any]:
    import dramatiq
    from dramatiq import Worker

    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    def seen() -> None:
        with lock:
            count[0] += 1
            if count[0] >= messages:
                done.set()

    if mode == "bare":
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=redis, namespace="bench-bare")
        dramatiq.set_broker(broker)

        def noop(n: int) -> None:
            seen()

        actor = dramatiq.actor(noop, broker=broker, actor_name="bench_noop", queue_name=QUEUE)
        send = lambda i: actor.send(i)  # noqa: E731
        closer = broker.close
    else:
        from pydantic import Field

        from documind.contracts import Contract
        from documind.runtime import build_runtime
        from documind.settings import load_settings
        from documind.tasks import declare

        class BenchNoop(Contract):
            QUEUE = "bench_noop"
            ACTOR = "bench.noop"
            n: int = Field(ge=0)

        data_dir = Path(tempfile.mkdtemp(prefix="documind-bench-queue-"))
        atexit.register(shutil.rmtree, data_dir, True)
        settings = load_settings(
            mode="distributed", data_dir=data_dir,
            database_url=db_url, redis_url=redis, log_level="INFO",
        )
        runtime = build_runtime(settings)  # logs JSON lines at INFO on stderr, like a worker
        declare(runtime, BenchNoop, lambda work: seen())
        if mode == "documind_no_receipts":  # diagnostic: the same stack minus DeliveryCounter
            from documind.middleware import DeliveryCounter

            runtime.broker.middleware[:] = [m for m in runtime.broker.middleware if not isinstance(m, DeliveryCounter)]
        broker = runtime.broker
        send = lambda i: runtime.bus.send(BenchNoop(n=i))  # noqa: E731
        closer = runtime.close

    t = time.perf_counter()
    for i in range(messages):
        send(i)
    enqueue_s = time.perf_counter() - t

    worker = Worker(broker, queues={QUEUE}, worker_threads=threads)
    t = time.perf_counter()
    worker.start()
    finished = done.wait(timeout=max(120.0, messages / 20))
    process_s = time.perf_counter() - t
    worker.stop()
    closer()
    if not finished:
        raise SystemExit(f"only {count[0]} of {messages} messages processed in time")
    return {
        "mode": mode,
        "messages": messages,
        "threads": threads,
        "enqueue_s": round(enqueue_s, 4),
        "process_s": round(process_s, 4),
        "enqueue_per_s": round(messages / enqueue_s, 1),
        "process_per_s": round(messages / process_s, 1),
    }


def _run_child(mode: str, messages: int, threads: int, db_url: str, rep: int) -> dict[str, Any]:
    db = REDIS_DBS["queue"]
    flush_redis(db)
    logs = SCRATCH / "logs" / "queue"
    logs.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "bench.queue_overhead", "child", "--mode", mode, "--messages", str(messages),
           "--threads", str(threads), "--redis", redis_url(db), "--db-url", db_url]
    with (logs / f"{mode}-t{threads}-{rep}.log").open("w") as err:
        proc = subprocess.run(cmd, env=base_env(), stdout=subprocess.PIPE, stderr=err, text=True,
                              timeout=max(300, messages / 10))
    if proc.returncode != 0:
        tail = (logs / f"{mode}-t{threads}-{rep}.log").read_text(errors="replace")[-1500:]
        raise RuntimeError(f"queue child ({mode}) exited {proc.returncode}: {tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(ctx: Context) -> dict[str, Any]:
    p = ctx.params
    messages, repeats = p["queue_messages"], p["queue_repeats"]
    db = ScratchDatabase("queue")
    configs = []
    try:
        for threads in p["queue_threads"]:
            runs: dict[str, list[dict]] = {"documind": [], "bare": []}
            for rep in range(repeats):
                order = ("bare", "documind") if rep % 2 == 0 else ("documind", "bare")
                for mode in order:
                    log(f"queue: {mode}, {messages} no-op messages, 1 process x {threads} threads (repeat {rep + 1}/{repeats})")
                    runs[mode].append(_run_child(mode, messages, threads, db.url, rep))
            pairs = [ratio(d["process_per_s"], b["process_per_s"]) for d, b in zip(runs["documind"], runs["bare"])]
            enq_pairs = [ratio(d["enqueue_per_s"], b["enqueue_per_s"]) for d, b in zip(runs["documind"], runs["bare"])]
            diag: dict[str, float] = {}
            for variant in p.get("queue_diagnostics", []):
                log(f"queue: diagnostic {variant}, {threads} threads (one run)")
                try:
                    diag[variant] = _run_child(variant, messages, threads, db.url, 0)["process_per_s"]
                except Exception as exc:  # noqa: BLE001 - a diagnostic must not sink the measurement
                    diag[variant] = None
                    log(f"queue: diagnostic {variant} failed: {exc}")
            configs.append({
                "processes": 1,
                "threads": threads,
                "messages": messages,
                "repeats": repeats,
                "documind_process_per_s": rnd(median([r["process_per_s"] for r in runs["documind"]]), 1),
                "bare_process_per_s": rnd(median([r["process_per_s"] for r in runs["bare"]]), 1),
                "ratio": rnd(median(pairs)),
                "ratios": pairs,
                "documind_enqueue_per_s": rnd(median([r["enqueue_per_s"] for r in runs["documind"]]), 1),
                "bare_enqueue_per_s": rnd(median([r["enqueue_per_s"] for r in runs["bare"]]), 1),
                "enqueue_ratio": rnd(median(enq_pairs)),
                "runs": runs,
                "diagnostics_per_s": diag,
                "documind_without_delivery_counter_per_s": diag.get("documind_no_receipts"),
            })
    finally:
        db.close()
        flush_redis(REDIS_DBS["queue"])
    main = max(configs, key=lambda c: c["threads"])
    return {
        "status": "ok",
        "summary": {
            "documind_msgs_per_s": main["documind_process_per_s"],
            "bare_msgs_per_s": main["bare_process_per_s"],
            "ratio": main["ratio"],
            "goal": 0.5,
            "config": f"1 process x {main['threads']} threads, {messages} messages, median of {repeats}",
        },
        "configs": configs,
        "notes": [
            "DocuMind side: build_runtime() in distributed mode (Redis broker, Postgres scratch DB), "
            "the actor declared with documind.tasks.declare (contract validation, error policy), "
            "INFO JSON logs to a file.",
            "Bare side: dramatiq.brokers.redis.RedisBroker with Dramatiq's default middleware.",
            "Messages are enqueued first (single-threaded send loop), then consumed; rates are medians "
            "over alternating repeats, ratio = median of per-repeat DocuMind/bare ratios.",
            "Diagnostic (one run, not a goal): documind_no_receipts = the DocuMind stack without the "
            "DeliveryCounter middleware, i.e. how much of the overhead is counting each message's receipts.",
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("child")
    c.add_argument("--mode", choices=["documind", "bare", *DIAGNOSTICS], required=True)
    c.add_argument("--messages", type=int, required=True)
    c.add_argument("--threads", type=int, required=True)
    c.add_argument("--redis", required=True)
    c.add_argument("--db-url", default=None)
    a = ap.parse_args()
    print(json.dumps(_child(a.mode, a.messages, a.threads, a.redis, a.db_url)), flush=True)


if __name__ == "__main__":
    main()
