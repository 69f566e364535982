"""PDFs in page ranges (DOCUMIND_INGEST_PAGES_PER_RANGE=2 in the harness) and cancellation,
against real workers, Postgres/SQLite, Redis and Qdrant local mode."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.pdf_samples import TEXT_PDF_QUERY, scanned_pdf, text_pdf

pytestmark = pytest.mark.integration


def test_multi_range_pdf_completes_with_dense_idx_and_page_numbers(stack, tmp_path):
    path = text_pdf(tmp_path / f"manual-7p-{stack.mode}.pdf")
    (doc,) = stack.ingest(path)
    assert doc["status"] == "completed", doc["error"]
    rows = stack.sql(
        f"SELECT idx, page_start, page_end, element_types FROM chunks WHERE document_id = '{doc['id']}' ORDER BY idx"
    )
    assert [r[0] for r in rows] == list(range(len(rows))) == list(range(doc["chunk_count"]))
    starts = [r[1] for r in rows]
    assert starts == sorted(starts), "chunks are numbered in page order"
    assert set(range(1, 8)) <= {p for _, a, b, _t in rows for p in range(a, b + 1)}
    assert all(1 <= a <= b <= 7 for _, a, b, _t in rows)
    types = {t for r in rows for t in (json.loads(r[3]) if isinstance(r[3], str) else r[3])}
    assert {"Title", "NarrativeText"} <= types
    status = stack.status(doc["id"])
    extract = next(s for s in status["stages"] if s["name"] == "extract")
    assert extract["units_done"] == extract["units_total"] == 7
    assert status["metadata"]["pages"] == 7
    assert stack.sql(f"SELECT count(*) FROM page_range_results WHERE document_id = '{doc['id']}'") == [(0,)]
    hits = stack.search(TEXT_PDF_QUERY, 3)
    assert hits and hits[0]["document_id"] == doc["id"]


def test_cancel_of_a_finished_document_is_refused(stack, tmp_path):
    path = tmp_path / "short-note.txt"
    path.write_text(f"A short note about cancelling finished work in {stack.mode} mode.\n")
    (doc,) = stack.ingest(path)
    assert doc["status"] == "completed"
    res = stack.cli("cancel", doc["id"], check=False)
    assert res.code != 0
    assert "already completed" in res.stderr and res.stderr.count("\n") == 1
    assert stack.status(doc["id"])["status"] == "completed"
    missing = stack.cli("cancel", "no-such-document", check=False)
    assert missing.code != 0 and "no such document" in missing.stderr


def test_cancel_mid_ocr_stops_quickly_and_leaves_nothing(stack, tmp_path):
    if stack.mode != "distributed":
        pytest.skip("needs workers outside the CLI process (embedded ingest blocks until final)")
    # 16 pages, 8 ranges of 2: with 2 worker threads, ranges are still in flight or waiting when
    # the cancel lands even on a loaded machine (with 8 pages, 3 of 4 ranges had finished while
    # the cancel command started, in a parallel `make test`).
    path = scanned_pdf(tmp_path / "scan-16p.pdf", pages=16)
    (doc,) = stack.cli("ingest", str(path), "--no-wait", "--json").json()
    doc_id = doc["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until OCR is under way
        running = stack.sql(
            f"SELECT count(*) FROM stages WHERE document_id = '{doc_id}' AND name = 'extract' AND state = 'running'"
        )
        if running == [(1,)]:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"extraction never started\n{stack.worker_logs()}")
    time.sleep(1.0)
    started = time.monotonic()
    out = stack.cli("cancel", doc_id, "--json").json()
    assert out["status"] == "cancelled"
    cli_s = time.monotonic() - started
    assert cli_s < 30
    # Every range in flight stops at its next page: both worker threads log the drop.
    log = stack.root / "logs" / "ingest.log"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        dropped = [ln for ln in log.read_text().splitlines() if "work dropped" in ln and doc_id in ln]
        if len(dropped) >= 2:
            break
        time.sleep(0.5)
    stopped_after = time.monotonic() - started
    print(f"cancel: CLI returned in {cli_s:.1f} s; in-flight ranges dropped {stopped_after:.1f} s after the cancel started")
    assert len(dropped) >= 2, stack.worker_logs()
    assert stopped_after < 25, f"OCR went on for {stopped_after:.1f} s after the cancel"
    status = stack.status(doc_id)
    assert status["status"] == "cancelled"
    extract = next(s for s in status["stages"] if s["name"] == "extract")
    assert extract["state"] == "cancelled" and extract["units_done"] < 16
    time.sleep(2)  # queued ranges run now and must be dropped at the fence, writing nothing
    assert stack.sql(f"SELECT count(*) FROM chunks WHERE document_id = '{doc_id}'") == [(0,)]
    assert stack.sql(f"SELECT count(*) FROM page_range_results WHERE document_id = '{doc_id}'") == [(0,)]
    assert stack.status(doc_id)["status"] == "cancelled"
    # Refused again (final); a re-ingest with --reprocess starts a new generation.
    assert stack.cli("cancel", doc_id, check=False).code != 0
    again = stack.cli("ingest", str(path), "--no-wait", "--reprocess", "--json").json()[0]
    assert again["id"] == doc_id and again["generation"] == doc["generation"] + 1
    assert stack.cli("cancel", doc_id, "--json").json()["status"] == "cancelled"
