"""documind_ingest.validation.validate_file on corpus files and crafted files: the real type
from the content, the size limit, empty, encrypted and corrupt files."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from documind.errors import (
    CorruptFile,
    EmptyFile,
    EncryptedFile,
    FileTooLarge,
    UnsupportedFileType,
)
from documind_ingest.validation import SUPPORTED_KINDS, Validated, validate_file

LIMIT = 100 * 1024 * 1024
EXECUTABLE = b"MZ\x90\x00" + random.Random(0).randbytes(4096)


def test_empty_file(corpus: Path) -> None:
    with pytest.raises(EmptyFile, match="^file is empty$"):
        validate_file(corpus / "empty.txt", max_bytes=LIMIT)


def test_password_protected_pdf(corpus: Path) -> None:
    with pytest.raises(EncryptedFile, match="^PDF is password protected$"):
        validate_file(corpus / "password.pdf", max_bytes=LIMIT)


def test_password_protected_xlsx(corpus: Path) -> None:
    with pytest.raises(EncryptedFile, match="password protected"):
        validate_file(corpus / "password_protected.xlsx", max_bytes=LIMIT)


def test_owner_password_only_pdf_is_readable(corpus: Path) -> None:
    result = validate_file(corpus / "copy-protected.pdf", max_bytes=LIMIT)
    assert result == Validated(kind="pdf", mime_type="application/pdf")


def test_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 400)  # 2000 bytes
    with pytest.raises(FileTooLarge, match="too large") as exc:
        validate_file(path, max_bytes=1999)
    assert "2.0 KB" in str(exc.value)
    assert "limit" in str(exc.value)
    # At the limit is fine.
    assert validate_file(path, max_bytes=2000).kind == "txt"


def test_too_large_is_checked_before_reading(corpus: Path) -> None:
    # An encrypted file over the limit is refused for its size: no parsing of large uploads.
    with pytest.raises(FileTooLarge):
        validate_file(corpus / "password.pdf", max_bytes=1000)


@pytest.mark.parametrize("name", ["upload", "program.exe", "blob.bin"])
def test_executable_is_unsupported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(EXECUTABLE)
    with pytest.raises(UnsupportedFileType) as exc:
        validate_file(path, max_bytes=LIMIT)
    assert str(exc.value).startswith("unsupported type")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n)
        for n in ("notes.txt", "notes.md", "table.csv")
    ],
)
def test_executable_with_a_text_extension_is_unsupported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(EXECUTABLE)
    with pytest.raises(UnsupportedFileType):
        validate_file(path, max_bytes=LIMIT)


@pytest.mark.parametrize("name", ["report.pdf", "letter.docx"])
def test_executable_with_a_document_extension_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(EXECUTABLE)
    with pytest.raises(UnsupportedFileType, match="^unsupported type: application/x-dosexec$"):
        validate_file(path, max_bytes=LIMIT)


def test_truncated_docx(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.docx"
    path.write_bytes((corpus / "docx-tables.docx").read_bytes()[:200])
    with pytest.raises((CorruptFile, UnsupportedFileType)):
        validate_file(path, max_bytes=LIMIT)


def test_type_comes_from_content_not_extension(corpus: Path) -> None:
    # A MIME email saved as .txt.
    assert validate_file(corpus / "fake-email.txt", max_bytes=LIMIT).kind == "eml"


def test_docx_renamed_to_doc(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "renamed.doc"
    shutil.copy(corpus / "docx-tables.docx", path)
    assert validate_file(path, max_bytes=LIMIT).kind == "docx"


def test_pdf_renamed_to_txt(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "paper.txt"
    shutil.copy(corpus / "layout-parser-paper-fast.pdf", path)
    assert validate_file(path, max_bytes=LIMIT).kind == "pdf"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("layout-parser-paper-fast.pdf", "pdf"),
        ("docx-tables.docx", "docx"),
        ("fake-doc-emphasized-text.doc", "doc"),
        ("fake-power-point-table.pptx", "pptx"),
        ("fake-power-point.ppt", "ppt"),
        ("2023-half-year-analyses-by-segment.xlsx", "xlsx"),
        ("tests-example.xls", "xls"),
        ("csv-with-long-lines.csv", "csv"),
        ("stanley-cups.tsv", "tsv"),
        ("fake-html-cp1252.html", "html"),
        ("factbook.xml", "xml"),
        ("codeblock.md", "md"),
        ("README.rst", "rst"),
        ("norwich-city.txt", "txt"),
        ("email-no-utf8-2008-07-16.062410.eml", "eml"),
        ("fake-email-attachment.msg", "msg"),
        ("winter-sports.epub", "epub"),
        ("simple.odt", "odt"),
        ("fake-doc.rtf", "rtf"),
        ("english-and-korean.png", "png"),
        ("layout-parser-paper-fast.jpg", "jpg"),
    ],
)
def test_corpus_kinds(corpus: Path, name: str, kind: str) -> None:
    result = validate_file(corpus / name, max_bytes=LIMIT)
    assert result.kind == kind
    assert result.kind in SUPPORTED_KINDS.values()
    assert result.mime_type


def test_prose_that_libmagic_calls_news_is_still_text(tmp_path):
    # libmagic names plain prose starting with "Article" message/news; it is still a text file.
    path = tmp_path / "abstract.txt"
    path.write_text("Article\n\nThe study looked at how mucosal immune cells respond to retinoic acid in mice.\n")
    assert validate_file(path, max_bytes=LIMIT).kind == "txt"
