"""Resource bombs beyond zip (issue 10 item 10): each hostile file (tests/hostile.py) is
refused with a clear reason before the work, or takes a cheap path in bounded memory."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from documind.errors import FileTooLarge, UnsafeArchive
from documind_ingest import pdf_pages
from documind_ingest.extraction import extract
from documind_ingest.validation import validate_file
from tests import hostile

LIMIT = 100 * 1024 * 1024


def _extract(path, kind):
    return extract(path, kind, ocr_languages="eng", min_chars_per_page=20, source_name=path.name)


def _text(extraction) -> str:
    return "\n".join(e.text for e in extraction.elements)


# ---- pixels ---------------------------------------------------------------------------------
def test_an_image_over_the_pixel_budget_is_refused_from_its_header(tmp_path):
    png = hostile.pixel_bomb_png(tmp_path / "bomb.png")
    assert png.stat().st_size < 1_000_000
    started = time.monotonic()
    with pytest.raises(FileTooLarge, match=r"image is 40000 × 40000 pixels, over the limit of 50,000,000"):
        validate_file(png, max_bytes=LIMIT)
    assert time.monotonic() - started < 5  # the header only: decoding would take 1.6 GB


def test_an_image_within_the_budget_passes(tmp_path):
    png = hostile.pixel_bomb_png(tmp_path / "ok.png", width=2000, height=1000)
    assert validate_file(png, max_bytes=LIMIT).kind == "png"


def test_a_huge_pdf_page_renders_for_ocr_within_the_pixel_budget(tmp_path):
    import pypdfium2 as pdfium

    pdf = hostile.huge_page_pdf(tmp_path / "wide.pdf", width_in=30, height_in=30)  # 81 Mpx at 300 dpi
    assert pdf.stat().st_size < 2_000
    doc = pdfium.PdfDocument(str(pdf))
    try:
        with pdf_pages.PDFIUM_LOCK:
            image = pdf_pages.render_page(doc[0])
    finally:
        doc.close()
    assert image.width * image.height <= 50_000_000
    assert image.width > 6000  # the lower resolution that fits, not a thumbnail


def test_pillow_limit_is_ours_again_after_unstructured_lifts_it():
    from PIL import Image

    import unstructured.partition.pdf  # noqa: F401 - sets MAX_IMAGE_PIXELS to 500 M
    from documind_ingest.budgets import limit_pillow

    limit_pillow(50_000_000)
    assert Image.MAX_IMAGE_PIXELS == 50_000_000


# ---- pages ----------------------------------------------------------------------------------
def test_a_pdf_over_the_page_budget_is_refused_with_its_page_count(tmp_path):
    pdf = hostile.blank_pages_pdf(tmp_path / "many.pdf", pages=5_001)
    with pytest.raises(FileTooLarge, match=r"PDF has 5,001 pages, over the limit of 5,000"):
        validate_file(pdf, max_bytes=LIMIT)


def test_blank_pages_never_reach_tesseract_and_cost_milliseconds(tmp_path, monkeypatch):
    pdf = hostile.blank_pages_pdf(tmp_path / "blank.pdf", pages=2_000)
    assert pdf.stat().st_size < 1_000_000

    def no_ocr(*_a, **_k):
        raise AssertionError("a blank page was sent to Tesseract")

    monkeypatch.setattr(pdf_pages, "ocr_image", no_ocr)
    started = time.monotonic()
    pages = list(pdf_pages.iter_pages(pdf, 1, 2_000, ocr_languages="eng", min_chars_per_page=20))
    assert len(pages) == 2_000 and not any(p.ocr_used or p.blocks for p in pages)
    assert time.monotonic() - started < 30


def test_a_page_with_one_stroke_is_not_blank(tmp_path, monkeypatch):
    pdf = hostile.speck_page_pdf(tmp_path / "speck.pdf")
    seen = []
    monkeypatch.setattr(pdf_pages, "ocr_image", lambda image, *a, **k: seen.append(image.size) or "")
    pages = list(pdf_pages.iter_pages(pdf, 1, 1, ocr_languages="eng", min_chars_per_page=20))
    assert seen and pages[0].ocr_used


# ---- text -----------------------------------------------------------------------------------
def test_text_over_the_text_budget_is_refused(tmp_path):
    big = hostile.no_whitespace_text(tmp_path / "blob.txt", megabytes=40)
    with pytest.raises(FileTooLarge, match=r"txt file has 40.0 MB of text, over the limit of 20.0 MB"):
        validate_file(big, max_bytes=LIMIT, source_name="blob.txt")


def test_text_without_whitespace_is_read_in_bounded_pieces(tmp_path):
    from documind_ingest.fast_text import MAX_BLOCK_CHARS, plain_text_elements

    text = hostile.no_whitespace_text(tmp_path / "blob.txt", megabytes=4)
    started = time.monotonic()
    elements = plain_text_elements(text)
    assert max(len(e.text) for e in elements) <= MAX_BLOCK_CHARS
    assert sum(len(e.text) for e in elements) == text.stat().st_size
    assert time.monotonic() - started < 10


def test_reading_large_text_holds_a_window_not_the_file(tmp_path):
    from documind_ingest.fast_text import iter_text_blocks

    text = hostile.no_whitespace_text(tmp_path / "blob.txt", megabytes=19)
    tracemalloc.start()
    try:
        chars = sum(len(b.text) for b in iter_text_blocks(text))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert chars == text.stat().st_size
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1048576:.0f} MB for a 19 MB file"


def test_chunking_a_no_whitespace_text_is_not_quadratic(tmp_path):
    from documind.embedding import TokenCounter
    from documind_ingest.chunking import chunk_elements
    from documind_ingest.fast_text import plain_text_elements

    class CountingTokenizer(TokenCounter):
        """Counts the characters handed to the tokenizer: linear work is a small multiple of
        the text (each piece is measured a few times while it is cut), quadratic work is
        thousands of times it (every remainder re-tokenized). Work, not seconds: a loaded
        machine cannot make it fail."""

        tokenized_chars = 0

        def count_many(self, texts):  # noqa: ANN001, ANN202
            self.tokenized_chars += sum(len(t) for t in texts)
            return super().count_many(texts)

    text = hostile.no_whitespace_text(tmp_path / "blob.txt", megabytes=1)
    elements = plain_text_elements(text)
    tokenizer = CountingTokenizer("all-MiniLM-L6-v2")
    drafts = chunk_elements(elements, tokenizer, max_chars=1000, overlap_chars=0, max_tokens=256)
    size = text.stat().st_size
    assert sum(len(d.text) for d in drafts) == size
    assert tokenizer.tokenized_chars <= 30 * size, tokenizer.tokenized_chars / size


# ---- XML / HTML -----------------------------------------------------------------------------
def test_billion_laughs_is_refused_before_any_expansion(tmp_path):
    bomb = hostile.billion_laughs_xml(tmp_path / "lol.xml")
    with pytest.raises(UnsafeArchive, match="entity"):
        _extract(bomb, "xml")


def test_entities_in_an_html_doctype_are_never_expanded(tmp_path):
    # A guard, not a fix: lxml's HTML parser (under unstructured) ignores internal entity
    # declarations; this keeps it so if the parser ever changes.
    page = hostile.billion_laughs_html(tmp_path / "lol.html")
    text = _text(_extract(page, "html"))
    assert "Readable words about the harbour" in text
    assert "lollol" not in text and len(text) < 1_000


def test_a_deeply_nested_readable_html_page_gives_its_text(tmp_path):
    page = hostile.deep_html(tmp_path / "deep.html")
    assert "revenue growth in every region" in _text(_extract(page, "html"))


def test_a_deeply_nested_readable_xml_file_gives_its_text(tmp_path):
    doc = hostile.deep_xml(tmp_path / "deep.xml")
    assert "forty containers bound for the northern harbour" in _text(_extract(doc, "xml"))


def test_ordinary_html_still_goes_through_unstructured(tmp_path):
    from documind_ingest.markup import flat_markup

    page = hostile.deep_html(tmp_path / "shallow.html", depth=20)
    assert not flat_markup(page, "html")
    assert "revenue growth" in _text(_extract(page, "html"))


# ---- e-mail attachments ---------------------------------------------------------------------
def test_email_attachments_pass_the_upload_checks_or_are_skipped(tmp_path):
    (tmp_path / "parts").mkdir()
    mail = hostile.email_with_bombs(tmp_path / "mail.eml", tmp_path / "parts")
    assert mail.stat().st_size < 2_000_000
    result = _extract(mail, "eml")
    assert "quarterly figures for the northern region" in _text(result)
    reasons = {s["name"]: s["reason"] for s in result.skipped_attachments}
    assert "zip bomb" in reasons["figures.docx"], reasons
    assert "40000 × 40000 pixels" in reasons["chart.png"], reasons


def test_an_attachment_that_passes_the_checks_is_indexed_and_named(made_corpus):
    result = _extract(made_corpus / "outlook.msg", "msg")
    attached = [e for e in result.elements if e.metadata.attached_to_filename == "stations.txt"]
    assert any("North Ridge station" in e.text for e in attached)
    assert result.skipped_attachments == []
