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

from documind_ingest.budgets import MAX_PAGE_PIXELS, pdf_render_scale
from documind_ingest.fast_text import Block, split_page_lines
from documind_ingest.ocr import tesseract_text
from documind_ingest.pdfium_lock import PDFIUM_LOCK
from documind_ingest.system_tools import require_ocr
from documind_ingest.text_quality import assess

OCR_DPI = 300
# Blank-page check: a low-resolution grey render (a US Letter page is 306 × 396 pixels) whose
# darkest and lightest pixels differ by at most BLANK_SHADES of 255 holds nothing to read.
BLANK_CHECK_DPI = 36
BLANK_SHADES = 24
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


def render_page(page: object, max_pixels: int = MAX_PAGE_PIXELS) -> object:
    """The page as a PIL image that owns its pixels (no pdfium memory behind it), so OCR
    can run with the lock released. Call with PDFIUM_LOCK held. At OCR_DPI, or lower when
    the page is so large that OCR_DPI would exceed ``max_pixels`` (a tiny PDF can declare a
    page hundreds of inches wide). Grey: Tesseract binarises grey anyway, at a third of RGB's
    memory."""
    width, height = page.get_size()  # type: ignore[attr-defined]
    scale = pdf_render_scale(width, height, OCR_DPI, max_pixels)
    bitmap = page.render(scale=scale, grayscale=True)  # type: ignore[attr-defined]
    try:
        return bitmap.to_pil().copy()
    finally:
        bitmap.close()


def blank_page(page: object, max_pixels: int = MAX_PAGE_PIXELS) -> bool:
    """A page with nothing on it, decided cheaply so that it never reaches Tesseract: no page
    objects at all, or a render at BLANK_CHECK_DPI that is (nearly) one shade. Conservative:
    a speck or a faint line of text makes it not blank. Call with PDFIUM_LOCK held."""
    if next(iter(page.get_objects(max_depth=1)), None) is None:  # type: ignore[attr-defined]
        return True
    width, height = page.get_size()  # type: ignore[attr-defined]
    scale = pdf_render_scale(width, height, BLANK_CHECK_DPI, max_pixels // 16)
    bitmap = page.render(scale=scale, grayscale=True)  # type: ignore[attr-defined]
    try:
        low, high = bitmap.to_pil().getextrema()
    finally:
        bitmap.close()
    return high - low <= BLANK_SHADES


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
    max_pixels: int = MAX_PAGE_PIXELS,
) -> Iterator[PageText]:
    """Pages ``first..last`` (1-based, inclusive). ``before_page(n)`` runs before each page
    (the cancellation fence: it raises to stop). ``force_ocr``: OCR every page, whatever its
    text layer, except blank pages (``blank_page``), which cost a low-resolution render.
    Each Tesseract run is limited to ``ocr_timeout_s``; a page render to ``max_pixels``."""
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
                    if ocr and not text.strip() and blank_page(page, max_pixels):
                        ocr = False  # nothing to read: a blank page costs milliseconds, not an OCR run
                    if ocr:
                        require_ocr(ocr_languages)  # before the costly render
                        image = render_page(page, max_pixels)
                finally:
                    page.close()
            if image is not None:
                text = ocr_image(image, ocr_languages, timeout_s=ocr_timeout_s, page=number)
            yield PageText(number, split_page_lines(text, number), ocr)
