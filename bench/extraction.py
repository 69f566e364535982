"""Extraction speed, text kept and peak memory: the ingest service's fast paths (plain-text
splitter; PDF page text with pdfium in page ranges) against unstructured's defaults
(``partition(filename=...)``) on the largest text and PDF of the corpus.

Each reading runs in a fresh process (``python -m bench.extraction PROBE FILE``), so its peak
RSS (VmHWM: ``ru_maxrss`` would carry the parent's peak across exec) is its own; the import
cost is measured and reported apart (``import_s``, ``rss_after_import_mb``). Text kept: the word multiset of our elements against
unstructured's (``recall`` = share of unstructured's words that our output also has, with
multiplicity, words = runs of word characters; ``extra`` = share of our words unstructured does not have). Quick mode cuts the
inputs (first 10 % of the book, the manual's first 60 pages) and skips the 872-page DOCX.
A generated scan (the manual's first pages as images) measures the OCR rate, pages/s."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import CORPUS, Context, base_env, log, peak_rss_mb, ratio, require_data, scratch_dir

BOOK = "book-war-and-peace-1225p.txt"
MANUAL = "DA-619p.pdf"
HANDBOOK = "handbook-872p.docx"
PAGES_PER_RANGE = 25
# Pages of the generated scan (OCR costs ~5 s a page on each side here).
SCAN_PAGES_QUICK = 3
SCAN_PAGES_FULL = 10


class _Summary:
    """Type and page of an element whose text is no longer held."""

    def __init__(self, name: str, page: int | None) -> None:
        self.name, self.text = name, ""
        self.metadata = type("M", (), {"page_number": page})()


def _type_name(e: Any) -> str:
    return e.name if isinstance(e, _Summary) else type(e).__name__


def probe(kind: str, path: Path, words_out: Path) -> dict[str, Any]:
    """One reading in this process (the child side)."""
    t = time.perf_counter()
    if kind in ("unstructured", "unstructured-ocr"):
        from unstructured.partition.auto import partition
    else:
        from documind_ingest.docx_stream import iter_docx_blocks
        from documind_ingest.fast_text import batches, plain_text_elements, to_elements
        from documind_ingest.page_ranges import plan_ranges
        from documind_ingest.pdf_pages import iter_pages, page_count
        import unstructured.documents.elements  # noqa: F401 - what to_elements imports
    import_s = time.perf_counter() - t
    rss_import = peak_rss_mb()
    t = time.perf_counter()
    range_peaks: list[float] = []
    kept: Counter = Counter()
    if kind == "unstructured":
        elements = partition(filename=str(path))
    elif kind == "unstructured-ocr":
        # A scan: OCR every page (what "auto" picks for a PDF without text; hi_res needs a
        # layout model from a hub, which nothing here may download).
        elements = partition(filename=str(path), strategy="ocr_only", languages=["eng"])
    elif kind == "ours-text":
        elements = plain_text_elements(path)
    elif kind == "ours-pdf":
        # As the workers do it: one page range after the other, each extracted page by page.
        # A worker holds one range's elements at a time: keep only words and summaries.
        elements = []
        for first, last in plan_ranges(page_count(path), PAGES_PER_RANGE):
            blocks = [b for p in iter_pages(path, first, last, ocr_languages="eng", min_chars_per_page=20)
                      for b in p.blocks]
            range_elements = to_elements(blocks)
            kept.update(w for e in range_elements for w in re.findall(r"\w+", e.text or ""))
            elements.extend(_Summary(type(e).__name__, e.metadata.page_number) for e in range_elements)
            range_peaks.append(peak_rss_mb())
    elif kind == "ours-docx":
        # As the worker does it: streamed, turned into elements one batch at a time. Only
        # the words are kept, as the worker keeps only chunk texts.
        elements, kept = [], Counter()
        for batch in batches(iter_docx_blocks(path), 200_000):
            batch_elements = to_elements(batch)
            kept.update(w for e in batch_elements for w in re.findall(r"\w+", e.text or ""))
            elements.extend(_Summary(type(e).__name__, e.metadata.page_number) for e in batch_elements)
            range_peaks.append(peak_rss_mb())
    else:
        raise SystemExit(f"unknown probe {kind}")
    seconds = time.perf_counter() - t
    # Word characters only: dot leaders and punctuation glued to numbers differ by extractor.
    words = kept if kind in ("ours-docx", "ours-pdf") else Counter(w for e in elements for w in re.findall(r"\w+", e.text or ""))
    words_out.write_text(json.dumps(words))
    return {
        "seconds": round(seconds, 3),
        "import_s": round(import_s, 2),
        "rss_after_import_mb": rss_import,
        "peak_rss_mb": peak_rss_mb(),
        "elements": len(elements),
        "element_types": dict(Counter(_type_name(e) for e in elements)),
        "titles": sum(1 for e in elements if _type_name(e) == "Title"),
        "pages_seen": len({e.metadata.page_number for e in elements if e.metadata.page_number}),
        "peak_rss_mb_after_each_range": range_peaks[:3] + (["..."] if len(range_peaks) > 6 else []) + range_peaks[-3:]
        if range_peaks else None,
    }


def _run_probe(kind: str, path: Path, timeout_s: float) -> tuple[dict[str, Any], Counter]:
    words_out = path.with_suffix(f".{kind}.words.json")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.extraction", kind, str(path), str(words_out)],
        env=base_env(), capture_output=True, text=True, timeout=timeout_s, cwd=Path(__file__).resolve().parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"probe {kind} on {path.name} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), Counter(json.loads(words_out.read_text()))


def make_scan(manual: Path, pages: int, out: Path) -> Path:
    """An image-only PDF of the manual's first ``pages`` pages (rendered at 200 dpi): a scan,
    so both sides must OCR every page."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(manual))
    try:
        images = [pdf[i].render(scale=200 / 72).to_pil().convert("RGB") for i in range(pages)]
    finally:
        pdf.close()
    images[0].save(out, "PDF", resolution=200, save_all=True, append_images=images[1:])
    return out


def _inputs(ctx: Context) -> list[Path]:
    book, manual = (require_data(CORPUS / name, "the document corpus") for name in (BOOK, MANUAL))
    folder = scratch_dir("extraction")
    scan = make_scan(manual, SCAN_PAGES_QUICK if ctx.quick else SCAN_PAGES_FULL, folder / "DA-scan.pdf")
    if not ctx.quick:
        return [book, manual, require_data(CORPUS / HANDBOOK, "the document corpus"), scan]
    cut_book = folder / "war-and-peace-first-10pct.txt"
    data = book.read_bytes()
    cut_book.write_bytes(data[: len(data) // 10])
    cut_manual = folder / "DA-first-60p.pdf"
    from pypdf import PdfReader, PdfWriter

    reader, writer = PdfReader(str(manual)), PdfWriter()
    for page in reader.pages[:60]:
        writer.add_page(page)
    with cut_manual.open("wb") as fh:
        writer.write(fh)
    return [cut_book, cut_manual, scan]


def measure(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "ok", "files": {}}
    for path in _inputs(ctx):
        ours_kind = {".pdf": "ours-pdf", ".docx": "ours-docx"}.get(path.suffix, "ours-text")
        log(f"extraction: {path.name}: {ours_kind}")
        ours, our_words = _run_probe(ours_kind, path, ctx.timeout(600))
        log(f"extraction: {path.name}: unstructured defaults")
        scan = path.name.startswith("DA-scan")
        base, base_words = _run_probe("unstructured-ocr" if scan else "unstructured", path, ctx.timeout(1800))
        common = sum((our_words & base_words).values())
        out["files"][path.name] = {
            "ours": ours,
            "unstructured": base,
            "speedup": ratio(base["seconds"], ours["seconds"], 1),
            "peak_rss_ratio": ratio(ours["peak_rss_mb"], base["peak_rss_mb"]),
            "word_recall": ratio(common, sum(base_words.values()), 4),
            "word_extra": ratio(sum(our_words.values()) - common, sum(our_words.values()), 4),
        }
        if path.suffix == ".pdf":
            from documind_ingest.pdf_pages import page_count

            pages = page_count(path)
            out["files"][path.name]["pages"] = pages
            out["files"][path.name]["pages_per_s"] = {
                "ours": ratio(pages, ours["seconds"], 2), "unstructured": ratio(pages, base["seconds"], 2),
            }
    out["summary"] = {name: {"speedup": f["speedup"], "word_recall": f["word_recall"],
                             "ours_s": f["ours"]["seconds"], "unstructured_s": f["unstructured"]["seconds"],
                             "ours_peak_rss_mb": f["ours"]["peak_rss_mb"],
                             "unstructured_peak_rss_mb": f["unstructured"]["peak_rss_mb"],
                             "pages_per_s": f.get("pages_per_s")}
                      for name, f in out["files"].items()}
    out["notes"] = [
        "seconds: extraction only (partition / our splitter), imports excluded; the goal is >= 10x.",
        "PDF: pdfium text per page in 25-page ranges, as the ingest workers do (one range per message); "
        "unstructured: partition() defaults (strategy auto -> fast, pdfminer + per-element NLP).",
        "word_recall: unstructured's words (multiset) that our elements also contain.",
        "DA-scan.pdf: the manual's first pages rendered to an image-only PDF (a scan): ours OCRs page by page "
        "in ranges (Tesseract), unstructured partition(strategy='ocr_only'); pages_per_s is the OCR rate.",
        "DOCX (full mode only): streamed from word/document.xml, elements one 200,000-character batch at a "
        "time, as the ingest worker does; unstructured: partition() of the whole file.",
    ]
    return out


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))))
