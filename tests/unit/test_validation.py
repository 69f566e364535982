"""documind_ingest.validation.validate_file on generated corpus files and crafted files: the real type
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


def test_empty_file(made_corpus) -> None:
    with pytest.raises(EmptyFile, match="^file is empty$"):
        validate_file(made_corpus / "empty.txt", max_bytes=LIMIT)


def test_password_protected_pdf(made_corpus) -> None:
    with pytest.raises(EncryptedFile, match="^PDF is password protected$"):
        validate_file(made_corpus / "user-password.pdf", max_bytes=LIMIT)


def test_password_protected_xlsx(made_corpus) -> None:
    with pytest.raises(EncryptedFile, match="password protected"):
        validate_file(made_corpus / "password-protected.xlsx", max_bytes=LIMIT)


def test_owner_password_only_pdf_is_readable(made_corpus) -> None:
    result = validate_file(made_corpus / "owner-password-only.pdf", max_bytes=LIMIT)
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


def test_too_large_is_checked_before_reading(made_corpus) -> None:
    # An encrypted file over the limit is refused for its size: no parsing of large uploads.
    with pytest.raises(FileTooLarge):
        validate_file(made_corpus / "user-password.pdf", max_bytes=1000)


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


def test_truncated_docx(made_corpus, tmp_path: Path) -> None:
    path = tmp_path / "x.docx"
    path.write_bytes((made_corpus / "tables.docx").read_bytes()[:200])
    with pytest.raises((CorruptFile, UnsupportedFileType)):
        validate_file(path, max_bytes=LIMIT)


def test_type_comes_from_content_not_extension(made_corpus) -> None:
    # A MIME email saved as .txt.
    assert validate_file(made_corpus / "email-saved-as.txt", max_bytes=LIMIT).kind == "eml"


def test_docx_renamed_to_doc(made_corpus, tmp_path: Path) -> None:
    path = tmp_path / "renamed.doc"
    shutil.copy(made_corpus / "tables.docx", path)
    assert validate_file(path, max_bytes=LIMIT).kind == "docx"


def test_pdf_renamed_to_txt(made_corpus, tmp_path: Path) -> None:
    path = tmp_path / "paper.txt"
    shutil.copy(made_corpus / "field-manual-7p.pdf", path)
    assert validate_file(path, max_bytes=LIMIT).kind == "pdf"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("field-manual-7p.pdf", "pdf"),
        ("scan-no-text-layer.pdf", "pdf"),
        ("tables.docx", "docx"),
        ("legacy.doc", "doc"),
        ("slides.pptx", "pptx"),
        ("legacy.ppt", "ppt"),
        ("segments.xlsx", "xlsx"),
        ("legacy.xls", "xls"),
        ("long-lines.csv", "csv"),
        ("cups.tsv", "tsv"),
        ("cp1252.html", "html"),
        ("factbook.xml", "xml"),
        ("codeblock.md", "md"),
        ("README.rst", "rst"),
        ("notes.txt", "txt"),
        ("languages.txt", "txt"),
        ("plain.eml", "eml"),
        ("legacy-headers.eml", "eml"),
        ("outlook.msg", "msg"),
        ("survey.epub", "epub"),
        ("survey.odt", "odt"),
        ("survey.rtf", "rtf"),
        ("scan.png", "png"),
        ("photo.jpg", "jpg"),
    ],
)
def test_corpus_kinds(made_corpus, name: str, kind: str) -> None:
    result = validate_file(made_corpus / name, max_bytes=LIMIT)
    assert result.kind == kind
    assert result.kind in SUPPORTED_KINDS.values()
    assert result.mime_type


def test_prose_that_libmagic_calls_news_is_still_text(tmp_path):
    # libmagic names plain prose starting with "Article" message/news; it is still a text file.
    path = tmp_path / "abstract.txt"
    path.write_text("Article\n\nThe study looked at how mucosal immune cells respond to retinoic acid in mice.\n")
    assert validate_file(path, max_bytes=LIMIT).kind == "txt"
