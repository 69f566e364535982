"""An embedded process killed mid-work leaves documents non-final; the next ``ingest`` picks
them up and finishes them (its in-memory queue died with it, the database did not)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.integration.harness import DOCUMIND, embedded_stack

pytestmark = pytest.mark.integration


def test_killed_embedded_ingest_is_resumed_by_the_next_one(tmp_path):
    stack = embedded_stack(Path(tempfile.mkdtemp(prefix="documind-recovery-")))
    try:
        first = subprocess.Popen(
            [DOCUMIND, "ingest", str(EXAMPLES / "tide-pools.html"), "--json"],
            env=stack.env, cwd=stack.root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        db = stack.root / "data" / "documind.db"
        deadline = time.monotonic() + 120
        rows: list[tuple] = []
        while time.monotonic() < deadline and first.poll() is None:
            if db.exists():
                try:
                    rows = stack.sql("SELECT id, status FROM documents")
                except Exception:  # noqa: BLE001 - schema not there yet
                    rows = []
                if rows:
                    break
            time.sleep(0.05)
        assert rows, "the first ingest never registered its document"
        first.send_signal(signal.SIGKILL)
        first.wait()
        (doc_id, state), = stack.sql("SELECT id, status FROM documents")
        if state != "received" and state != "processing":
            pytest.skip(f"the first run finished before it could be killed ({state})")

        other = tmp_path / "other.txt"
        other.write_text("Penguins huddle together through the Antarctic winter to share warmth.")
        docs = stack.ingest(other)
        assert docs[0]["status"] == "completed"
        assert stack.status(doc_id)["status"] == "completed"
        assert stack.search("hermit crabs trade snail shells", 1)[0]["document_id"] == doc_id
    finally:
        shutil.rmtree(stack.root, ignore_errors=True)


def test_killed_worker_is_recovered_by_the_watchdog(tmp_path):
    """Distributed: SIGKILL the ingest worker mid-OCR. The document stays `processing` with a
    stale heartbeat, but its message is still in Redis (fetched, never acked): the watchdog
    does not send a second one. Once the dead worker's broker heartbeat times out, the
    watchdog's run hands the message back to its queue (Dramatiq's own maintenance) and the
    restarted worker finishes the document."""
    import os

    import redis

    from tests.integration.harness import distributed_stack, teardown
    from tests.integration.pdf_samples import scanned_pdf

    root = Path(tempfile.mkdtemp(prefix="documind-watchdog-"))
    stack, db = distributed_stack(root, redis_db=12)
    try:
        stack.env["DOCUMIND_HEARTBEAT_INTERVAL_S"] = "0.5"
        scan = scanned_pdf(tmp_path / "scan-2p.pdf", pages=2)  # seconds of OCR to kill it in
        res = stack.cli("ingest", str(scan), "--json")  # no --wait
        (doc,) = res.json()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            stage = stack.sql(f"SELECT stage FROM documents WHERE id = '{doc['id']}'")[0][0]
            if stage == "extract":
                break
            time.sleep(0.1)
        assert stage == "extract", f"never reached extract (stage {stage})"
        ingest = stack.workers[0]
        os.killpg(ingest.pid, signal.SIGKILL)
        ingest.wait()
        killed_at = time.monotonic()
        assert stack.status(doc["id"])["status"] == "processing"

        # Nothing stale yet at the default threshold; with a short one it is a suspect, but
        # its message still waits in Redis (the dead worker's): no duplicate is sent.
        assert stack.cli("recover", "--json").json()["redriven"] == []
        time.sleep(1.5)
        outcome = stack.cli("recover", "--stale-after", "1", "--json").json()
        assert outcome["redriven"] == [] and outcome["queued"] == [doc["id"]]
        stack.restart_worker("ingest")
        # Dramatiq declares a worker dead 60 s after its last broker heartbeat.
        time.sleep(max(0.0, 62 - (time.monotonic() - killed_at)))
        client = redis.Redis.from_url(stack.env["DOCUMIND_REDIS_URL"])
        ns = stack.env["DOCUMIND_REDIS_NAMESPACE"]
        stack.cli("recover", "--json")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and stack.status(doc["id"])["status"] == "processing":
            time.sleep(1)
        final = stack.status(doc["id"])
        assert final["status"] == "completed", final
        assert client.hlen(f"{ns}:ingest.msgs") == 0
        client.close()
    finally:
        teardown(stack, db)


def _redis(stack):  # noqa: ANN001, ANN202
    import redis

    return redis.Redis.from_url(stack.env["DOCUMIND_REDIS_URL"]), stack.env["DOCUMIND_REDIS_NAMESPACE"]


def _queued(stack) -> dict[str, int]:  # noqa: ANN001
    client, ns = _redis(stack)
    try:
        return {q: client.hlen(f"{ns}:{q}.msgs") for q in ("ingest", "ingest_bulk", "embed", "embed_bulk")}
    finally:
        client.close()


def _wait_sql(stack, query: str, want, timeout: float = 180) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = stack.sql(query)
        if got == want:
            return
        time.sleep(0.3)
    raise AssertionError(f"{query} -> {got}, wanted {want}\n{stack.worker_logs()}")


def test_a_backlog_behind_stopped_workers_is_never_redriven_nor_failed(tmp_path):
    """Distributed (real Redis, Postgres, workers): documents waiting for a stopped embed
    worker (bulk lane) and a stopped ingest worker (one `received`, interactive) are left
    alone by any number of watchdog runs; a message deleted from Redis is re-driven; when
    the workers come back, everything completes once."""
    from tests.integration.harness import distributed_stack, teardown

    root = Path(tempfile.mkdtemp(prefix="documind-backlog-"))
    stack, db = distributed_stack(root, redis_db=11)
    try:
        folder = tmp_path / "bulk"
        folder.mkdir()
        topics = ["otters", "glaciers", "lanterns", "orchards"]
        for t in topics:
            (folder / f"{t}.txt").write_text(f"A short note about {t}, written for the watchdog backlog test.")
        lone = tmp_path / "lone.txt"
        lone.write_text("A single interactive note about lighthouses keeping ships off the rocks.")
        with stack.paused("embed"):
            bulk = [d["id"] for d in stack.cli("ingest", str(folder), "--json").json()]
            _wait_sql(stack, "SELECT count(*) FROM documents WHERE stage = 'embed'", [(len(bulk),)])
            with stack.paused("ingest"):
                (received,) = [d["id"] for d in stack.cli("ingest", str(lone), "--json").json()]
                attempts = stack.sql("SELECT document_id, name, attempt, state FROM stages ORDER BY 1, 2")
                queued = _queued(stack)
                assert queued == {"ingest": 1, "ingest_bulk": 0, "embed": 0, "embed_bulk": len(bulk)}
                time.sleep(0.5)
                for _ in range(3):
                    outcome = stack.cli("recover", "--stale-after", "0", "--json").json()
                    assert outcome["redriven"] == [] and outcome["failed"] == [], outcome
                    assert sorted(outcome["queued"]) == sorted(bulk + [received])
                assert _queued(stack) == queued  # no duplicate message
                assert stack.sql("SELECT document_id, name, attempt, state FROM stages ORDER BY 1, 2") == attempts
                assert stack.sql("SELECT count(*) FROM documents WHERE status = 'failed'") == [(0,)]

                # Now the `received` document's message is really lost: it is re-driven, once.
                client, ns = _redis(stack)
                client.delete(f"{ns}:ingest", f"{ns}:ingest.msgs")
                client.close()
                outcome = stack.cli("recover", "--stale-after", "0", "--json").json()
                assert outcome["redriven"] == [received], outcome
                assert stack.cli("recover", "--stale-after", "0", "--json").json()["redriven"] == []
                assert _queued(stack)["ingest"] == 1
        _wait_sql(
            stack, "SELECT status, count(*) FROM documents GROUP BY status", [("completed", len(bulk) + 1)], 300
        )
        assert stack.sql("SELECT count(*) FROM dead_letters") == [(0,)]
    finally:
        teardown(stack, db)


def test_a_lost_deletion_is_finished_by_the_watchdog(tmp_path):
    """Distributed: `documind delete` while the search worker is down gives up waiting, and
    Redis then loses its DeleteDocument. The watchdog removes the stored file and re-sends
    the points removal; once search is back, the index holds nothing of the document."""
    from tests.integration.harness import distributed_stack, teardown

    root = Path(tempfile.mkdtemp(prefix="documind-lost-delete-"))
    stack, db = distributed_stack(root, redis_db=11)
    try:
        note = tmp_path / "kelp.txt"
        note.write_text("Kelp forests grow fastest in cold, nutrient-rich coastal water.")
        (doc,) = stack.ingest(note)
        assert doc["status"] == "completed", doc
        key = stack.sql(f"SELECT storage_key FROM documents WHERE id = '{doc['id']}'")[0][0]
        stored = Path(stack.env["DOCUMIND_DATA_DIR"]) / "files" / key
        assert stored.exists()
        with stack.paused("search"):
            res = stack.cli("delete", doc["id"], "--timeout", "3", check=False)
            assert res.code == 1 and "no answer" in res.stderr, res.stderr
            client, ns = _redis(stack)
            client.delete(f"{ns}:search", f"{ns}:search.msgs")  # the message is lost
            client.close()
            assert stored.exists()
            outcome = stack.cli("recover", "--stale-after", "0", "--json").json()
            assert outcome["purged"] == [doc["id"]], outcome
            assert not stored.exists()
            again = stack.cli("recover", "--stale-after", "0", "--json").json()
            assert again["purged"] == [] and again["queued"] == [doc["id"]]  # sent once
        _wait_sql(stack, f"SELECT purged_at IS NOT NULL FROM documents WHERE id = '{doc['id']}'", [(True,)], 180)
        report = stack.cli("index", "check", "--json", check=False).json()
        assert report["extra"]["count"] == 0 and report["points_scanned"] == 0, report
    finally:
        teardown(stack, db)
