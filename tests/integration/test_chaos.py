"""Chaos, short form (issue 10): a real distributed stack on its own Redis and Postgres, ~45
mixed documents, a few worker SIGKILLs, one Redis kill (queues lost), one Postgres stop, a
backlog longer than ``stale_after_s``. Every document must end as it would in a calm run
(the ``bad-*`` inputs failed, the rest completed), with its chunks in the database and in the
index exactly once, and nothing stuck. The long form is ``make chaos`` (bench/chaos.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.chaos import Chaos, ChaosPlan

pytestmark = pytest.mark.integration


def test_documents_survive_killed_workers_redis_and_postgres():
    plan = ChaosPlan(
        docs=int(os.environ.get("DOCUMIND_CHAOS_DOCS", "45")),
        batches=3, chaos_s=75, kill_every_s=(5.0, 9.0),
        redis_kill_at_s=20, pg_stop_at_s=40, pg_stop_s=15,
        stale_after_s=10, drain_timeout_s=360,
        # Redis dies a second after the second batch is sent (its queues surely hold work then),
        # and the embed worker stalls 14 s after the last one (a backlog older than
        # stale_after_s, still waiting in the broker): at fixed times a fast pipeline had
        # emptied its queues before either.
        redis_kill_after_batch=1, stall_s=14,
    )
    keep = os.environ.get("DOCUMIND_CHAOS_LOGS")  # a folder to keep the worker/Redis/Postgres logs in
    chaos = Chaos(plan, keep_logs=Path(keep) if keep else None)
    try:
        report = chaos.run()
    except BaseException:
        if chaos.stack is not None:
            print(chaos.stack.worker_logs())
        raise
    finally:
        chaos.close()
    summary = {k: v for k, v in report.items() if k not in ("details", "plan")}
    print("CHAOS " + json.dumps(summary))
    details = json.dumps(report["details"], indent=1, default=str)[:20000]
    # The chaos really happened (else this test proves nothing).
    assert report["kills"] >= 3 and report["restarts"] >= report["kills"], summary
    assert report["redis_kills"] == 1 and report["postgres_stops"] == 1, summary
    # A backlog older than stale_after_s was there, and left alone while its messages waited;
    # the Redis kill lost messages, and the watchdog re-drove their documents.
    assert report["watchdog_queued_max"] > 0 and report["redrives"] > 0, summary
    # The outcome.
    assert report["drained"], details
    assert report["stuck"] == 0 and report["lost"] == 0 and report["duplicated"] == 0, details
    assert report["failed_by_chaos"] == 0 and report["failed"] == report["expected_failed"], details
    assert report["stale_points"] == 0 and report["points"] == report["chunks"], details
    assert report["dead_letters"] == 0, details
    assert report["details"]["index_check"]["clean"] is True, details
