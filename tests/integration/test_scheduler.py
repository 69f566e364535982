"""Two real schedulers (a rolling update) and a real maintenance worker on the machine's
Postgres and Redis: every tick of the watchdog is sent twice and runs once."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.harness import distributed_stack, spawn, stop, teardown

pytestmark = pytest.mark.integration


def _log_lines(path: Path) -> list[dict]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_two_schedulers_run_each_tick_once() -> None:
    root = Path(tempfile.mkdtemp(prefix="documind-scheduler-"))
    stack, db = distributed_stack(root, 12, workers=False, extra_env={
        "DOCUMIND_SCHEDULE_WATCHDOG": "* * * * *",
        "DOCUMIND_SCHEDULE_QUERY_LOG_PRUNE": "", "DOCUMIND_SCHEDULE_INDEX_CHECK": "",
        "DOCUMIND_SCHEDULE_CLEANUP": "", "DOCUMIND_SCHEDULE_CACHE_SWEEP": "",
    })
    env = stack.env
    procs: list[subprocess.Popen] = []
    try:
        procs.append(spawn(["worker", "maintenance", "--processes", "1", "--threads", "2"], env, root / "worker.log"))
        procs += [spawn(["scheduler"], env, root / f"scheduler-{i}.log") for i in (1, 2)]
        from sqlalchemy import create_engine, text

        engine = create_engine(env["DOCUMIND_DATABASE_URL"])
        deadline = time.monotonic() + 200
        rows: list = []
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT tick, outcome FROM scheduled_runs WHERE job = 'maintenance.watchdog' ORDER BY tick"
                )).all()
            # Two ticks finished: the start-up one and the next minute's.
            if len([r for r in rows if r.outcome]) >= 2:
                break
            time.sleep(1)
        engine.dispose()
        time.sleep(3)  # the second scheduler's copy of the last tick reaches the worker too
        assert len([r for r in rows if r.outcome == "ok"]) >= 2, (rows, (root / "worker.log").read_text()[-3000:])
        ticks = {r.tick for r in rows}
        logs = _log_lines(root / "worker.log")
        processed = [x for x in logs if x.get("event") == "message processed" and x.get("actor") == "maintenance.watchdog"]
        skipped = [x for x in logs if x.get("event") == "tick already run"]
        # Each tick: one run, and the other scheduler's copy skipped.
        assert len(processed) == len(ticks), (processed, rows)
        assert len(skipped) >= len(ticks) - 1 and skipped, skipped
        print(f"ticks {len(ticks)}, runs {len(processed)}, duplicate ticks skipped {len(skipped)}")
        for i in (1, 2):
            assert "Traceback" not in (root / f"scheduler-{i}.log").read_text()
    finally:
        for p in procs:
            stop(p)
        teardown(stack, db)
