"""Found by the chaos test: the worker of the page range that assembles a PDF is SIGKILLed
during the hand-off (CHUNK stage, chunks already numbered). Its ExtractPages message comes
back (Dramatiq requeues a dead worker's messages), finds the document assembled and, before
the fix, re-extracted its pages, then dropped them: nothing sent the document on until the
watchdog's ``stale_after_s`` (10 minutes by default). Now the redelivered range sees that the
assembling worker is gone and starts the document's ranges again at once."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration.harness import distributed_stack, teardown

pytestmark = pytest.mark.integration

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _scanned_pdf(path: Path, pages: int) -> None:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(FONT, 28)
    images = []
    for i in range(pages):
        img = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(img)
        for j in range(12):
            draw.text((80, 100 + 60 * j), f"Page {i} line {j}: the harbor lantern was lit at dusk.", fill="black", font=font)
        images.append(img)
    images[0].save(path, save_all=True, append_images=images[1:], resolution=150.0)


def test_a_range_redelivered_after_its_assembler_died_hands_the_document_on(tmp_path):
    root = Path(tempfile.mkdtemp(prefix="documind-handoff-"))
    stack, db = distributed_stack(root, redis_db=12, extra_env={"DOCUMIND_HEARTBEAT_INTERVAL_S": "1"})
    try:
        pdf = tmp_path / "scan3.pdf"
        _scanned_pdf(pdf, 3)  # two ranges of 2 pages; a scan, so the hand-off OCRs a searchable PDF
        (doc,) = stack.cli("ingest", str(pdf), "--json").json()
        q = f"SELECT d.status, d.stage, (SELECT count(*) FROM chunks c WHERE c.document_id = d.id) FROM documents d WHERE d.id = '{doc['id']}'"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status, stage, chunks = stack.sql(q)[0]
            if (stage == "chunk" and chunks > 0) or status not in ("received", "processing"):
                break
            time.sleep(0.1)
        if status != "processing" or stage != "chunk":
            pytest.skip(f"the hand-off was over before it could be killed ({status}, {stage})")
        ingest = stack.workers[0]
        os.killpg(ingest.pid, signal.SIGKILL)
        ingest.wait()
        killed = time.monotonic()
        stack.respawn("ingest")
        # Dramatiq gives a dead worker's messages back once its broker heartbeat is 60 s old;
        # `recover` at the default stale_after_s (600 s) triggers that and re-drives nothing.
        time.sleep(max(0.0, 62 - (time.monotonic() - killed)))
        outcomes = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            outcomes.append(stack.cli("recover", "--json").json())
            if stack.sql(q)[0][0] != "processing":
                break
            time.sleep(3)
        final = stack.status(doc["id"])
        assert final["status"] == "completed", (final, stack.sql(q), stack.worker_logs())
        assert all(o["redriven"] == [] for o in outcomes), outcomes  # not the watchdog's doing
        assert "ranges restarted" in (root / "logs" / "ingest.log").read_text()
        assert stack.sql(f"SELECT count(*) FROM chunks WHERE document_id = '{doc['id']}'") == [(final["chunk_count"],)]
    finally:
        teardown(stack, db)
