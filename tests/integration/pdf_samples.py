"""Multi-page PDFs for the page-range tests, cut from corpus files with pypdf (no fixtures
checked in)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import CORPUS


def text_pdf(target: Path, first: int = 11, count: int = 7) -> Path:
    """``count`` text-layer pages of the 619-page manual, starting at page ``first``."""
    from pypdf import PdfReader, PdfWriter

    reader, writer = PdfReader(str(CORPUS / "DA-619p.pdf")), PdfWriter()
    for i in range(first - 1, first - 1 + count):
        writer.add_page(reader.pages[i])
    with target.open("wb") as fh:
        writer.write(fh)
    return target


def scanned_pdf(target: Path, pages: int = 8) -> Path:
    """An image-only PDF of ``pages`` copies of the flattened lorem-ipsum scan (OCR per page)."""
    from pypdf import PdfReader, PdfWriter

    page = PdfReader(str(CORPUS / "loremipsum-flat.pdf")).pages[0]
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_page(page)
    with target.open("wb") as fh:
        writer.write(fh)
    return target
