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
    stale heartbeat; once a worker is back, the watchdog re-drives it and it completes."""
    import os

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
        assert stack.status(doc["id"])["status"] == "processing"

        # Nothing stale yet at the default threshold; with a short one, the document is re-driven.
        assert stack.cli("recover", "--json").json()["redriven"] == []
        time.sleep(1.5)
        outcome = stack.cli("recover", "--stale-after", "1", "--json").json()
        assert outcome["redriven"] == [doc["id"]]
        stack.restart_worker("ingest")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and stack.status(doc["id"])["status"] == "processing":
            time.sleep(1)
        final = stack.status(doc["id"])
        assert final["status"] == "completed", final
        extract = next(s for s in final["stages"] if s["name"] == "extract")
        assert extract["attempt"] >= 2
    finally:
        teardown(stack, db)
