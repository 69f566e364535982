"""Two real schedulers (a rolling update) and a real maintenance worker on the machine's
Postgres and Redis: every tick of the watchdog is sent twice and runs once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.harness import DOCUMIND, base_env, create_database, drop_database, drop_redis_namespace

pytestmark = pytest.mark.integration


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([DOCUMIND, *args], env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


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
    db = create_database()
    env = base_env(root)
    env.update(
        DOCUMIND_MODE="distributed",
        DOCUMIND_DATABASE_URL=f"postgresql+psycopg2://postgres@127.0.0.1:5432/{db}",
        DOCUMIND_REDIS_URL="redis://127.0.0.1:6379/12",
        DOCUMIND_REDIS_NAMESPACE=db,
        DOCUMIND_QDRANT_PATH=str(root / "qdrant"),
        DOCUMIND_HEALTH_PORT="0",
        DOCUMIND_SCHEDULE_WATCHDOG="* * * * *",
        DOCUMIND_SCHEDULE_QUERY_LOG_PRUNE="", DOCUMIND_SCHEDULE_INDEX_CHECK="",
        DOCUMIND_SCHEDULE_CLEANUP="", DOCUMIND_SCHEDULE_CACHE_SWEEP="",
    )
    procs: list[subprocess.Popen] = []
    try:
        subprocess.run([DOCUMIND, "migrate"], env=env, check=True, capture_output=True, timeout=300)
        procs.append(_spawn(["worker", "maintenance", "--processes", "1", "--threads", "2"], env, root / "worker.log"))
        procs += [_spawn(["scheduler"], env, root / f"scheduler-{i}.log") for i in (1, 2)]
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
            _stop(p)
        drop_database(db)
        drop_redis_namespace(env["DOCUMIND_REDIS_URL"], db)
        shutil.rmtree(root, ignore_errors=True)
