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
