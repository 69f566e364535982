"""Property-based fuzzing of upload validation (``documind_ingest.validation.validate_file``):
arbitrary bytes under arbitrary names, and real files (PDF, DOCX, PNG, EML, ODT, EPUB, made here) that
are truncated, bit-flipped or spliced, either validate to a supported kind or raise one of the
documented errors (``PermanentError`` subclasses); none hangs.

Example counts: ``pytest --hypothesis-show-statistics``; more with HYPOTHESIS_PROFILE=long."""

from __future__ import annotations

import io
import itertools
import re
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from documind.errors import PermanentError
from documind_ingest.validation import SUPPORTED_KINDS, Validated, ZipLimits, validate_file

from tests.integration.pdf_samples import text_pdf
from tests.unit.fuzzing import fuzz_settings, time_bound

# unstructured warns for every guessed encoding (random bytes are "text" in a dozen codecs).
pytestmark = pytest.mark.filterwarnings("ignore:The file encoding was inferred")

LIMIT = 10 * 1024 * 1024
PER_EXAMPLE_S = 20  # a hang, not a slow file: the typical example takes milliseconds
NAMES = st.one_of(
    st.none(),
    st.sampled_from([
        "report.pdf", "letter.docx", "scan.png", "mail.eml", "notes.txt", "data.csv", "page.html",
        "book.epub", "sheet.xlsx", "deck.pptx", "doc.odt", "readme.md", "x", "", ".pdf", "a.PDF",
        "archive.zip", "program.exe", "photo.jpg", "notes.txt.pdf",
    ]),
    st.text(max_size=40),
)


def _docx() -> bytes:
    from docx import Document

    buf = io.BytesIO()
    doc = Document()
    doc.add_paragraph("Hermit crabs change shells as they grow.")
    doc.save(buf)
    return buf.getvalue()


def _png() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (64, 24), "white")
    ImageDraw.Draw(img).text((2, 4), "tide", fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _eml() -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", "Tide pools"
    msg.set_content("Hermit crabs change shells as they grow.\n")
    msg.add_attachment(b"%PDF-1.4 not really", maintype="application", subtype="pdf", filename="x.pdf")
    return msg.as_bytes()


def _zip(members: list[tuple[str, str]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i, (name, text) in enumerate(members):
            # ODF and EPUB: the mimetype member first and stored; the rest deflated.
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))  # same bytes every run
            zf.writestr(info, text, compress_type=zipfile.ZIP_STORED if i == 0 else zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _odt() -> bytes:
    """Minimal ODF text: its manifest is what validation reads (encryption check)."""
    return _zip([
        ("mimetype", "application/vnd.oasis.opendocument.text"),
        ("META-INF/manifest.xml", '<?xml version="1.0"?><manifest:manifest xmlns:manifest='
         '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry '
         'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>'
         '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
         '</manifest:manifest>'),
        ("content.xml", '<?xml version="1.0"?><office:document-content xmlns:office='
         '"urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text='
         '"urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text>'
         '<text:p>Hermit crabs change shells as they grow.</text:p></office:text></office:body>'
         '</office:document-content>'),
    ])


def _epub() -> bytes:
    """Minimal EPUB with an encryption.xml (an obfuscated font): validation reads it."""
    return _zip([
        ("mimetype", "application/epub+zip"),
        ("META-INF/container.xml", '<?xml version="1.0"?><container version="1.0" xmlns='
         '"urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path='
         '"content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>'),
        ("META-INF/encryption.xml", '<?xml version="1.0"?><encryption xmlns="urn:oasis:names:tc:'
         'opendocument:xmlns:container"><EncryptedData><CipherData><CipherReference URI="font.ttf"/>'
         '</CipherData></EncryptedData></encryption>'),
        ("content.opf", '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
         '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Tides</dc:title></metadata>'
         '<manifest><item id="c" href="c.xhtml" media-type="application/xhtml+xml"/></manifest>'
         '<spine><itemref idref="c"/></spine></package>'),
        ("c.xhtml", '<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Hermit crabs.</p></body></html>'),
    ])


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Small real files of each family, generated here (no corpus needed)."""
    folder = tmp_path_factory.mktemp("fuzz-fixtures")
    pdf = text_pdf(folder / "one.pdf", count=1).read_bytes()
    made = {"report.pdf": pdf, "letter.docx": _docx(), "scan.png": _png(), "mail.eml": _eml(),
            "doc.odt": _odt(), "book.epub": _epub()}
    for name, data in made.items():  # the unmutated files are valid: the mutations start there
        (folder / name).write_bytes(data)
        assert validate_file(folder / name, max_bytes=LIMIT, source_name=name).kind in SUPPORTED_KINDS.values()
    return made


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> itertools.count:
    folder = tmp_path_factory.mktemp("fuzz-uploads")
    return (folder / f"upload-{i}" for i in itertools.count())  # type: ignore[return-value]


def check_upload(path: Path, data: bytes, name: str | None, max_bytes: int = LIMIT) -> None:
    """The property: a supported kind, or a documented error; within the time bound."""
    path.write_bytes(data)
    try:
        with time_bound(PER_EXAMPLE_S):
            result = validate_file(path, max_bytes=max_bytes, source_name=name,
                                   zip_limits=ZipLimits(max_uncompressed_bytes=64 * 1024 * 1024))
    except PermanentError as exc:
        assert str(exc) and "\n" not in str(exc).strip()[:1], exc  # a message for the uploader
        return
    finally:
        path.unlink(missing_ok=True)
    assert isinstance(result, Validated) and result.kind in SUPPORTED_KINDS.values()
    assert result.mime_type


@fuzz_settings(500, deadline_ms=5000)
@given(data=st.binary(max_size=4096), name=NAMES, max_bytes=st.sampled_from([LIMIT, LIMIT, 64]))
def test_arbitrary_bytes_validate_or_raise_documented_errors(
    fixtures: dict[str, bytes], scratch, data: bytes, name: str | None, max_bytes: int  # noqa: ANN001
) -> None:
    check_upload(next(scratch), data, name, max_bytes)


# A mutation: (operation, position, argument); positions wrap around the file's length, so a
# recipe applies to any file (and an explicit example is a readable recipe, not 100 KB).
OPS = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 2**20), st.none()),
    st.tuples(st.just("flip"), st.integers(0, 2**20), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 2**20), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("overwrite"), st.integers(0, 2**20), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("cut"), st.integers(0, 2**20), st.integers(1, 256)),
)
RECIPES = st.tuples(
    st.sampled_from(["report.pdf", "letter.docx", "scan.png", "mail.eml", "doc.odt", "book.epub"]),
    st.lists(OPS, min_size=1, max_size=4), NAMES,
)


def mutate(data: bytes, ops: list[tuple]) -> bytes:
    out = bytearray(data)
    for op, pos, arg in ops:
        at = pos % (len(out) + 1)
        if op == "truncate":
            del out[at:]
        elif op == "flip" and at < len(out):
            out[at] ^= arg
        elif op == "insert":
            out[at:at] = arg
        elif op == "overwrite":
            out[at:at + len(arg)] = arg
        elif op == "cut":
            del out[at:at + arg]
        elif op == "regex":  # explicit examples only: a found case, independent of offsets
            out = bytearray(re.sub(arg[0], arg[1], bytes(out), count=1, flags=re.DOTALL))
    return bytes(out)


@fuzz_settings(800, deadline_ms=5000)
@given(recipe=RECIPES)
# Found by this test (HYPOTHESIS_PROFILE=long): a PDF object whose body is a bare reference
# ("4 0 obj 2 0 R") made pypdf raise AttributeError, which validation let through.
@example(recipe=("report.pdf", [("regex", 0, (rb"4 0 obj\n<<.*?/Parent ", b"4 0 obj "))], "report.pdf"))
# Found by this test: one flipped bit in the ODF manifest member made reading it raise
# BadZipFile (bad CRC) or zlib.error (bad deflate data) past the directory check.
@example(recipe=("doc.odt", [("flip", 167, 1)], None))
@example(recipe=("doc.odt", [("flip", 161, 1)], None))
# Found after the pixel budget began reading image headers: Pillow raised AttributeError
# and OSError ("Truncated File Read") on damaged PNG chunks.
@example(recipe=("scan.png", [("overwrite", 851, b"\x01o0")], None))
def test_mutated_real_files_validate_or_raise_documented_errors(
    fixtures: dict[str, bytes], scratch, recipe: tuple[str, list[tuple], str | None]  # noqa: ANN001
) -> None:
    original, ops, name = recipe
    check_upload(next(scratch), mutate(fixtures[original], ops), name if name is not None else original)
