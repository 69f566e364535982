"""Multi-page PDFs for the page-range tests, generated (no fixtures checked in)."""

from __future__ import annotations

from pathlib import Path

from tests import made_corpus

# What the page-range tests search for: only the generated text PDFs say it (every page).
TEXT_PDF_QUERY = "crossing the crevasse zone needs a rope team"


def text_pdf(target: Path, count: int = 7) -> Path:
    """``count`` text-layer pages, each a heading and two paragraphs."""
    return made_corpus.text_pdf(target, pages=count)


def scanned_pdf(target: Path, pages: int = 8) -> Path:
    """An image-only PDF of ``pages`` full-page scans (OCR per page, seconds each)."""
    return made_corpus.scanned_pdf(target, pages=pages)
