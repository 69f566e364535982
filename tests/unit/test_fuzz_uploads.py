"""Property-based fuzzing of upload validation (``documind_ingest.validation.validate_file``):
arbitrary bytes under arbitrary names, and real files (PDF, DOCX, PNG, EML, made here) that
are truncated, bit-flipped or spliced, either validate to a supported kind or raise one of the
documented errors (``PermanentError`` subclasses); none hangs.

Example counts: ``pytest --hypothesis-show-statistics``; more with HYPOTHESIS_PROFILE=long."""

from __future__ import annotations

import io
import itertools
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
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


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Small real files of each family, generated here (no corpus needed)."""
    folder = tmp_path_factory.mktemp("fuzz-fixtures")
    pdf = text_pdf(folder / "one.pdf", count=1).read_bytes()
    made = {"report.pdf": pdf, "letter.docx": _docx(), "scan.png": _png(), "mail.eml": _eml()}
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


@st.composite
def mutated_files(draw: st.DrawFn, fixtures: dict[str, bytes]) -> tuple[bytes, str | None]:
    """A real file cut short, bit-flipped, with bytes inserted or a region overwritten."""
    original = draw(st.sampled_from(sorted(fixtures)))
    data = bytearray(fixtures[original])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["truncate", "flip", "insert", "overwrite", "cut"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "truncate":
            del data[at:]
        elif op == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif op == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=64))
            data[at:at + len(chunk)] = chunk
        else:
            del data[at:at + draw(st.integers(1, 256))]
    name = draw(st.just(original) | NAMES)
    return bytes(data), name


@fuzz_settings(800, deadline_ms=5000)
@given(st.data())
def test_mutated_real_files_validate_or_raise_documented_errors(
    fixtures: dict[str, bytes], scratch, data: st.DataObject  # noqa: ANN001
) -> None:
    content, name = data.draw(mutated_files(fixtures))
    check_upload(next(scratch), content, name)
