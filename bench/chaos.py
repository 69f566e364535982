"""Chaos, long form (issue 10): the chaos run of tests/integration/chaos.py at bench sizes:
100+ mixed documents, more worker SIGKILLs over a longer window, one Redis kill (queues lost),
a 30 s Postgres stop, ``stale_after_s`` shorter than the backlog. Its own Redis server and
Postgres cluster (free loopback ports, temp folders): the machine's shared ones are never
touched. Reports documents, kills, restarts, re-drives, dead letters, lost, duplicated, stuck;
the report is also written to ``bench/results/chaos-<mode>.json``."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from typing import Any

from bench.common import CLEANUP, RESULTS, SCRATCH, Context, log


def measure(ctx: Context) -> dict[str, Any]:
    from tests.integration.chaos import Chaos, ChaosPlan

    p = ctx.params
    plan = ChaosPlan(
        docs=p["chaos_docs"], batches=p["chaos_batches"], chaos_s=p["chaos_s"],
        kill_every_s=tuple(p["chaos_kill_every_s"]), redis_kill_at_s=p["chaos_redis_kill_at_s"],
        pg_stop_at_s=p["chaos_pg_stop_at_s"], pg_stop_s=p["chaos_pg_stop_s"],
        stale_after_s=p["chaos_stale_after_s"], drain_timeout_s=p["chaos_drain_timeout_s"],
    )
    logs = SCRATCH / "logs" / "chaos"
    shutil.rmtree(logs, ignore_errors=True)
    chaos = Chaos(plan, keep_logs=logs)  # kept for reading after the run
    undo = CLEANUP.add("chaos", chaos.close)  # Ctrl-C still stops its servers and workers
    try:
        report = chaos.run()
    finally:
        chaos.close()
        CLEANUP.discard(undo)
    summary = {k: v for k, v in report.items() if k not in ("details", "plan")}
    log("CHAOS " + json.dumps(summary))
    clean = (report["drained"] and not report["stuck"] and not report["lost"] and not report["duplicated"]
             and not report["failed_by_chaos"] and report["points"] == report["chunks"] and not report["dead_letters"])
    report["status"] = "ok" if clean else "error"
    if not clean:
        report["error"] = "the chaos run lost, duplicated, stuck or failed documents: see details"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"chaos-{'quick' if ctx.quick else 'full'}.json"
    out.write_text(json.dumps({"finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **report},
                              indent=2, default=str) + "\n")
    return report
