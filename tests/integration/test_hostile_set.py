"""The whole hostile set (tests/hostile.py) through the embedded pipeline, as a new user would
run it: ``documind ingest --wait --json``. Every document ends within a bound, completed or
failed with a clear reason, and the process (the CLI runs the workers in-process) peaks
under 2 GB resident."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests import hostile
from tests.integration.harness import DOCUMIND, embedded_stack, teardown

pytestmark = pytest.mark.integration

TOTAL_BOUND_S = 300
PEAK_RSS_BOUND = 2 * 1024**3

# Runs the CLI, samples its VmHWM (peak resident set) from /proc until it exits, and reports
# that with the largest descendant's peak (RUSAGE_CHILDREN: Tesseract, LibreOffice...).
_MEASURE = r"""
import json, resource, subprocess, sys, time
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
import threading
peak = [0]
def sample():
    while proc.poll() is None:
        try:
            for line in open(f"/proc/{proc.pid}/status"):
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]) * 1024)
        except OSError:
            pass
        time.sleep(0.2)
t = threading.Thread(target=sample, daemon=True); t.start()
out, err = proc.communicate()
t.join()
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"code": proc.returncode, "stdout": out, "stderr": err[-5000:], "hwm": peak[0], "children": children}))
"""

# name -> (builder, expected status, words the reason or the text must contain)
EXPECTED = {
    "bomb.png": ("failed", "40000 × 40000 pixels, over the limit"),
    "wide.pdf": ("failed", "no text could be extracted"),  # OCR'd at a lower dpi: one line, no words
    "blank.pdf": ("failed", "no text could be extracted"),
    "many-pages.pdf": ("failed", "PDF has 5,001 pages, over the limit of 5,000"),
    "blob-40mb.txt": ("failed", "over the limit of 20.0 MB"),
    "blob-200kb.txt": ("completed", None),  # streamed, cut into 20,000-character blocks
    "lol.xml": ("failed", "entity-expansion bomb"),
    "deep.html": ("completed", None),
    "deep.xml": ("completed", None),
    "mail.eml": ("completed", None),
}


def _build(folder: Path) -> None:
    parts = folder.parent / "parts"
    parts.mkdir()
    hostile.pixel_bomb_png(folder / "bomb.png")
    hostile.huge_page_pdf(folder / "wide.pdf", width_in=100, height_in=100)  # 900 Mpx at 300 dpi
    hostile.blank_pages_pdf(folder / "blank.pdf", pages=2_000)
    hostile.blank_pages_pdf(folder / "many-pages.pdf", pages=5_001)
    hostile.no_whitespace_text(folder / "blob-40mb.txt", megabytes=40)
    hostile.no_whitespace_text(folder / "blob-200kb.txt", megabytes=0.2)
    hostile.billion_laughs_xml(folder / "lol.xml")
    hostile.deep_html(folder / "deep.html")
    hostile.deep_xml(folder / "deep.xml")
    hostile.email_with_bombs(folder / "mail.eml", parts)


def test_the_hostile_set_ends_in_bounded_time_and_memory():
    root = Path(tempfile.mkdtemp(prefix="documind-hostile-"))
    stack = embedded_stack(root)
    # 2,000 pages in ranges of 2 would be 1,000 messages; the default range size is the real case.
    stack.env["DOCUMIND_INGEST_PAGES_PER_RANGE"] = "25"
    try:
        folder = root / "hostile"
        folder.mkdir()
        _build(folder)
        assert all(p.stat().st_size < 45 * 1024 * 1024 for p in folder.iterdir())
        started = time.monotonic()
        run = subprocess.run(
            [sys.executable, "-c", _MEASURE, DOCUMIND, "ingest", str(folder), "--wait", "--json"],
            env=stack.env, cwd=root, capture_output=True, text=True, timeout=TOTAL_BOUND_S + 120,
        )
        elapsed = time.monotonic() - started
        measured = json.loads(run.stdout)
        assert measured["code"] in (0, 3), measured["stderr"]
        docs = {d["source_name"]: d for d in json.loads(measured["stdout"])}
        print(
            f"hostile set: {elapsed:.0f} s, peak RSS {measured['hwm'] / 1048576:.0f} MB "
            f"(largest child {measured['children'] / 1048576:.0f} MB)"
        )
        assert set(docs) == set(EXPECTED)
        for name, (status, reason) in EXPECTED.items():
            doc = docs[name]
            assert doc["status"] == status, (name, doc["status"], doc["error"])
            if reason:
                assert reason in (doc["error"] or ""), (name, doc["error"])
        assert elapsed < TOTAL_BOUND_S, f"{elapsed:.0f} s"
        assert 0 < measured["hwm"] < PEAK_RSS_BOUND, f"peak RSS {measured['hwm'] / 1048576:.0f} MB"

        hits = stack.search("revenue growth in every region", 3)
        assert any(h["source_name"] == "deep.html" for h in hits), hits
        mail = stack.status(docs["mail.eml"]["id"])
        skipped = {s["name"] for s in mail["metadata"]["skipped_attachments"]}
        assert skipped == {"figures.docx", "chart.png"}, mail["metadata"]
    finally:
        teardown(stack, None)
        shutil.rmtree(root, ignore_errors=True)
