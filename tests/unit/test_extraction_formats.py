"""Every supported format through validate_file + extract, with fixtures the corpus lacks
generated here by real tools (pandoc for odt/rtf/epub/docx, Pillow/pillow-heif for
tiff/bmp/heic, Python codecs for text encodings, pikepdf for a PDF with a junk text layer)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from documind_ingest.extraction import Extraction, extract
from documind_ingest.validation import validate_file

LIMIT = 100 * 1024 * 1024
SENTENCE = "The glaciers retreated twelve metres this year"
GERMAN = "Grüße aus Köln: die Straße ist schön und das Wetter ist heute wunderbar, sagte François.\n"


def run(path: Path, source_name: str | None = None, languages: str = "eng") -> tuple[str, Extraction]:
    v = validate_file(path, max_bytes=LIMIT, source_name=source_name or path.name)
    e = extract(path, v.kind, ocr_languages=languages, min_chars_per_page=20,
                source_name=source_name or path.name, mime_type=v.mime_type, encoding=v.encoding)
    return v.kind, e


def text_of(e: Extraction) -> str:
    return " ".join(str(x.text) for x in e.elements)


@pytest.mark.parametrize("fmt", ["odt", "rtf", "epub", "docx"])
def test_pandoc_generated_documents(tmp_path: Path, fmt: str) -> None:
    import pypandoc

    out = tmp_path / f"survey.{fmt}"
    pypandoc.convert_text(f"# Glacier Survey\n\n{SENTENCE}.", fmt, format="md", outputfile=str(out),
                          extra_args=["--standalone", "--metadata=title:Glacier Survey"])
    stored = tmp_path / "stored"  # the store keeps no extension
    shutil.copy(out, stored)
    kind, e = run(stored, source_name=out.name)
    assert kind == fmt
    assert SENTENCE in text_of(e)
    assert not e.ocr_used


def _text_image(size: tuple[int, int] = (1000, 200)):
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", size, "white")
    ImageDraw.Draw(img).text((20, 60), "Quarterly report about glaciers", fill="black",
                             font=ImageFont.load_default(size=48))
    return img


@pytest.mark.parametrize("fmt", ["tiff", "bmp", "heic"])
def test_images_are_ocrd(tmp_path: Path, fmt: str) -> None:
    if fmt == "heic":
        pillow_heif = pytest.importorskip("pillow_heif", reason="pillow-heif writes the HEIC fixture")
        pillow_heif.register_heif_opener()
    path = tmp_path / f"scan.{fmt}"
    _text_image().save(path)
    kind, e = run(path)
    assert kind == fmt
    assert e.ocr_used
    assert "glaciers" in text_of(e).lower()


@pytest.mark.parametrize("codec", ["utf-8", "utf-16", "utf-32", "utf-16-le", "utf-32-be", "cp1252", "iso-8859-1"])
def test_text_in_any_encoding(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "stored"
    path.write_bytes((GERMAN * 3).encode(codec))
    kind, e = run(path, source_name="gruesse.txt")
    assert kind == "txt"
    assert "Grüße aus Köln" in text_of(e) and "François" in text_of(e)


def test_koi8_cyrillic_text(tmp_path: Path) -> None:
    path = tmp_path / "stored"
    path.write_bytes(("Привет, это обычный русский текст о погоде и о книгах.\n" * 3).encode("koi8_r"))
    _, e = run(path, source_name="privet.txt")
    assert "русский текст" in text_of(e)


def _pdf_with_text_layer(tmp_path: Path, layer: str) -> Path:
    """An image-only page (Pillow) plus an invisible text layer (render mode 3), as OCR tools
    write them: here the layer is junk, as a bad OCR run or a broken font leaves it."""
    import pikepdf

    page_pdf = tmp_path / "page.pdf"
    _text_image((1200, 400)).save(page_pdf, resolution=100)
    pdf = pikepdf.open(page_pdf)
    page = pdf.pages[0]
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    resources = page.obj.Resources
    resources.Font = pikepdf.Dictionary(F1=font)
    escaped = layer.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = pdf.make_stream(f"BT 3 Tr /F1 10 Tf 10 20 Td ({escaped}) Tj ET".encode("latin-1"))
    page.obj.Contents = pikepdf.Array([page.obj.Contents, stream]) if not isinstance(
        page.obj.Contents, pikepdf.Array) else page.obj.Contents + [stream]
    out = tmp_path / "scan-with-layer.pdf"
    pdf.save(out)
    return out


def test_pdf_with_garbage_text_layer_is_ocrd(tmp_path: Path) -> None:
    junk = "~#@ %^&* ]]{ |\\ ;; 0x9 ## ^^ %% ~~ <> ++ == -- __ ** && @@ !! ?? // \\\\ " * 4
    path = _pdf_with_text_layer(tmp_path, junk)
    kind, e = run(path)
    assert kind == "pdf"
    assert e.ocr_used
    assert "glaciers" in text_of(e).lower()


def test_pdf_with_good_text_layer_is_not_ocrd(tmp_path: Path) -> None:
    path = _pdf_with_text_layer(tmp_path, (SENTENCE + ". ") * 4)
    _, e = run(path)
    assert not e.ocr_used
    assert SENTENCE in text_of(e)


def test_email_stored_without_extension_is_parsed_as_email(corpus: Path, tmp_path: Path) -> None:
    # The known bug: detection without the name saw plain text and indexed MIME headers.
    stored = tmp_path / "stored"
    name = "email-no-utf8-2008-07-16.062410.eml"
    shutil.copy(corpus / name, stored)
    kind, e = run(stored, source_name=name)
    text = text_of(e)
    assert kind == "eml"
    assert "Content-Type" not in text and "Received:" not in text
    assert "שזה לא יהיה מקצועי" in text


@pytest.mark.parametrize(
    ("name", "needle"),
    [("fake-email-attachment.msg", "Here's the attachments"), ("winter-sports.epub", "Winter Sports"),
     ("simple.odt", "favorite things"), ("fake-doc.rtf", "My first paragraph"),
     # LibreOffice, run by conversions.py (a bounded child with a private profile)
     ("fake-doc-emphasized-text.doc", "I am a normal text."), ("fake-power-point.ppt", "Adding a Bullet Slide")],
)
def test_corpus_formats_needing_extra_tools(corpus: Path, tmp_path: Path, name: str, needle: str) -> None:
    stored = tmp_path / "stored"
    shutil.copy(corpus / name, stored)
    _, e = run(stored, source_name=name)
    assert needle in text_of(e)
