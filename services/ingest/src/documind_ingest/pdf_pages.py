"""PDF text one page at a time: pdfium's text layer (fast, ~1.4 ms a page), or Tesseract OCR
of the rendered page when the page has (almost) no text layer. Working page by page keeps
memory bounded by one page and lets the caller check for cancellation between pages.

Every pdfium call holds ``PDFIUM_LOCK`` (see ``pdfium_lock``), for the short pdfium steps only
(open, read a page's text, render it), never across the Tesseract run or a ``yield``, so the
worker's other threads still overlap their OCR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from documind.errors import CorruptFile, EncryptedFile

from documind_ingest.fast_text import Block, split_page_lines
from documind_ingest.ocr import tesseract_text
from documind_ingest.pdfium_lock import PDFIUM_LOCK
from documind_ingest.system_tools import require_ocr
from documind_ingest.text_quality import assess

OCR_DPI = 300
# Default of DOCUMIND_OCR_TIMEOUT_S: one Tesseract run on one page.
OCR_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class PageText:
    number: int  # 1-based
    blocks: list[Block]
    ocr_used: bool


def page_count(path: Path) -> int:
    with _open(path) as pdf, PDFIUM_LOCK:
        return len(pdf)


class _open:
    """pdfium document as a context manager; its errors become user-facing messages."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self):  # noqa: ANN204
        import pypdfium2 as pdfium

        try:
            with PDFIUM_LOCK:
                self.pdf = pdfium.PdfDocument(str(self.path))
        except pdfium.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise EncryptedFile("PDF is password protected") from None
            raise CorruptFile(f"PDF is corrupt: {exc}") from None
        return self.pdf

    def __exit__(self, *exc: object) -> None:
        with PDFIUM_LOCK:
            self.pdf.close()


def render_page(page: object) -> object:
    """The page as a PIL image that owns its pixels (no pdfium memory behind it), so OCR
    can run with the lock released. Call with PDFIUM_LOCK held."""
    bitmap = page.render(scale=OCR_DPI / 72)  # type: ignore[attr-defined]
    try:
        return bitmap.to_pil().copy()
    finally:
        bitmap.close()


def ocr_image(image: object, languages: str, *, timeout_s: float = OCR_TIMEOUT_S, page: int | None = None) -> str:
    what = f"page {page}" if page is not None else "a page"
    return tesseract_text(image, languages, timeout_s=timeout_s, what=what)


def junk_text_layer(text: str) -> bool:
    """A page whose text layer is junk (broken font encodings, a bad OCR layer) is OCR'd.
    Per page, only the replacement-character and word-shape signals count: a page of figures
    or table numbers has few letters but a good text layer, and OCR would not beat it."""
    q = assess(text)
    return q.replacement_ratio > 0.05 or (q.word_shape_ratio is not None and q.word_shape_ratio < 0.5)


def iter_pages(
    path: Path,
    first: int,
    last: int,
    *,
    ocr_languages: str,
    min_chars_per_page: int,
    before_page: Callable[[int], None] = lambda n: None,
    force_ocr: bool = False,
    ocr_timeout_s: float = OCR_TIMEOUT_S,
) -> Iterator[PageText]:
    """Pages ``first..last`` (1-based, inclusive). ``before_page(n)`` runs before each page
    (the cancellation fence: it raises to stop). ``force_ocr``: OCR every page, whatever its
    text layer. Each Tesseract run is limited to ``ocr_timeout_s``."""
    with _open(path) as pdf:
        with PDFIUM_LOCK:
            total = len(pdf)
        for number in range(first, min(last, total) + 1):
            before_page(number)
            image = None
            with PDFIUM_LOCK:
                page = pdf[number - 1]
                try:
                    textpage = page.get_textpage()
                    text = textpage.get_text_range().replace("\x00", "")
                    textpage.close()
                    ocr = force_ocr or len(text.strip()) < min_chars_per_page or junk_text_layer(text)
                    if ocr:
                        require_ocr(ocr_languages)  # before the costly render
                        image = render_page(page)
                finally:
                    page.close()
            if image is not None:
                text = ocr_image(image, ocr_languages, timeout_s=ocr_timeout_s, page=number)
            yield PageText(number, split_page_lines(text, number), ocr)
