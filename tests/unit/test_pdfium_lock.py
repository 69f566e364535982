"""PDFium is not thread-safe: every caller in the ingest process must take the one lock."""

from __future__ import annotations

import threading
from pathlib import Path

from documind_ingest.pdf_pages import iter_pages, page_count
from documind_ingest.pdfium_lock import LIBRARY_LOCKS, PDFIUM_LOCK, share_pdfium_lock


def _read_all(path: Path) -> list[int]:
    return [p.number for p in iter_pages(path, 1, 10, ocr_languages="eng", min_chars_per_page=1)]


def test_libraries_use_the_shared_lock_after_sharing() -> None:
    import importlib

    share_pdfium_lock()
    for module_name, attribute in LIBRARY_LOCKS:
        assert getattr(importlib.import_module(module_name), attribute) is PDFIUM_LOCK, module_name


def test_page_reader_waits_while_another_thread_is_in_pdfium(made_corpus) -> None:
    pdf = made_corpus / "two-columns-2p.pdf"
    done = threading.Event()
    pages: list[int] = []

    def read() -> None:
        pages.extend(_read_all(pdf))
        done.set()

    with PDFIUM_LOCK:  # stands for another library rasterizing a page in another thread
        reader = threading.Thread(target=read)
        reader.start()
        assert not done.wait(0.5), "read a PDF while another thread held the PDFium lock"
    assert done.wait(30)
    reader.join()
    assert pages == [1, 2]


def test_many_threads_read_pdfs_at_once(made_corpus) -> None:
    """Four threads over two PDFs, with unstructured rendering pages for OCR in a fifth: all
    complete with every page (before the lock, CI saw "Failed to load page")."""
    from unstructured_inference.inference.pdf_image import convert_pdf_to_image

    share_pdfium_lock()
    files = [made_corpus / "two-columns-2p.pdf", made_corpus / "field-manual-7p.pdf"] * 2
    expected = {f: list(range(1, min(page_count(f), 10) + 1)) for f in files}
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def read(i: int, f: Path) -> None:
        try:
            for _ in range(10):
                results[i] = _read_all(f)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def render() -> None:
        try:
            for _ in range(4):
                assert len(convert_pdf_to_image(filename=str(files[1]), dpi=72)) == page_count(files[1])
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(i, f)) for i, f in enumerate(files)]
    threads.append(threading.Thread(target=render))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert [results[i] for i in range(len(files))] == [expected[f] for f in files]


def test_ingest_worker_leaves_ocrmypdf_out_of_its_process(clean_env, tmp_path: Path) -> None:
    """Importing OCRmyPDF patches pdfminer for the whole process (and brings its own PDFium
    lock): the searchable PDF is made in a child process instead."""
    import os
    import subprocess
    import sys

    code = (
        "import sys; from documind_ingest import worker, pipeline, searchable_pdf; "
        "broker = worker.setup(); broker.close(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'ocrmypdf'))"
    )
    env = dict(os.environ, DOCUMIND_DATA_DIR=str(tmp_path))  # clean_env: no other DOCUMIND_ settings
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
