"""documind_ingest.metadata: the file's own properties per format, e-mail headers, language,
and the full record stored on documents.metadata."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from documind_ingest.metadata import detect_language, document_metadata, file_properties


def test_pdf_info_dictionary(made_corpus) -> None:
    # A repaired PDF (broken cross-reference table) still gives its info dictionary.
    props = file_properties(made_corpus / "broken-xref.pdf", "pdf")
    assert props["title"] == "Glacier Field Manual"
    assert props["authors"] == ["Survey Office"]
    assert props["created"] == "2024-03-01T09:30:00+00:00"
    assert props["pages"] == 2


def test_owner_password_pdf_properties(made_corpus) -> None:
    props = file_properties(made_corpus / "owner-password-only.pdf", "pdf")
    assert props["pages"] == 2 and props["created"].startswith("2024-03-01")


def test_real_pdf_info_dictionary(real_corpus: Path) -> None:
    # Dates with a negative UTC offset, an author with a URL, as a real publisher wrote them.
    props = file_properties(real_corpus / "invalid-pdf-structure-pdfminer-one-page.pdf", "pdf")
    assert props["title"].startswith("GAO-23-106826, Cybersecurity")
    assert props["authors"] == ["U.S. Government Accountability Office, http://www.gao.gov"]
    assert props["created"] == "2023-06-26T20:20:52-04:00"
    assert props["modified"] == "2023-06-28T09:23:58-04:00"
    assert props["pages"] == 2


@pytest.mark.parametrize("fmt", ["docx", "odt", "epub"])
def test_generated_documents_carry_title_and_author(tmp_path: Path, fmt: str) -> None:
    import pypandoc

    out = tmp_path / f"doc.{fmt}"
    pypandoc.convert_text("Body text.", fmt, format="md", outputfile=str(out), extra_args=[
        "--standalone", "--metadata=title:Glacier Survey", "--metadata=author:Ana Ruiz",
        "--metadata=date:2024-03-01"])
    props = file_properties(out, fmt)
    assert props["title"] == "Glacier Survey"
    assert props["authors"] == ["Ana Ruiz"]


def test_epub_and_office_files(made_corpus) -> None:
    epub = file_properties(made_corpus / "survey.epub", "epub")
    assert epub["title"] == "Glacier Survey" and epub["authors"] == ["Ana Ruiz"]
    xlsx = file_properties(made_corpus / "segments.xlsx", "xlsx")
    assert xlsx["authors"] == ["Ana Ruiz"] and xlsx["created"] == "2024-03-01T09:30:00Z"
    doc = file_properties(made_corpus / "legacy.doc", "doc")  # OLE properties, via LibreOffice
    assert doc["title"] == "Station Table" and doc["authors"] == ["Ana Ruiz"]


def test_real_epub_and_office_files(real_corpus: Path) -> None:
    epub = file_properties(real_corpus / "winter-sports.epub", "epub")
    assert epub["title"] == "Winter Sports in Switzerland" and epub["authors"] == ["E. F. Benson"]
    xlsx = file_properties(real_corpus / "2023-half-year-analyses-by-segment.xlsx", "xlsx")
    assert xlsx["authors"] == ["ibays"] and xlsx["modified"] == "2023-07-26T18:31:42Z"
    doc = file_properties(real_corpus / "fake-doc-emphasized-text.doc", "doc")
    assert doc["authors"] == ["Win"] and doc["created"] == "2023-08-04T07:32:00"
    # OLE's zero date ("never saved") is no date.
    assert file_properties(real_corpus / "fake-power-point.ppt", "ppt")["modified"] is None


def test_broken_properties_are_no_failure(tmp_path: Path) -> None:
    path = tmp_path / "x.docx"
    path.write_bytes(b"PK\x03\x04 not really")
    assert file_properties(path, "docx") == {}


def test_language_is_deterministic() -> None:
    text = "Ceci est un texte en français, assez long pour que la langue soit reconnue sans doute."
    assert {detect_language(text) for _ in range(5)} == {"fr"}
    assert detect_language("The quick brown fox jumps over the lazy dog near the river bank.") == "en"
    assert detect_language("12 34 !!") is None


def _partition(path: Path, name: str):
    from unstructured.partition.auto import partition

    return partition(filename=str(path), metadata_filename=name)


def _check_email_metadata(path: Path, tmp_path: Path, kind: str, subject: str, sender: str, language: str) -> None:
    stored = tmp_path / "stored"
    shutil.copy(path, stored)
    md = document_metadata(stored, kind, elements=_partition(stored, path.name), source_name=path.name,
                           sha256="ab" * 32, mime_type="message/rfc822", pages=None)
    assert md["email"]["subject"] == subject
    assert md["email"]["from"] == [sender]
    assert md["email"]["to"] and md["email"]["message_id"]
    assert md["email"]["date"]
    assert md["title"] == subject and md["authors"] == [sender]
    assert md["language"] == language
    assert md["source_name"] == path.name and md["sha256"] == "ab" * 32
    assert md["words"] > 5


@pytest.mark.parametrize(
    ("name", "subject", "sender", "language"),
    [
        ("plain.eml", "Glacier survey results", "Ana Ruiz <ana@example.org>", "en"),
        # RFC 2047 windows-1255 headers, decoded.
        ("legacy-headers.eml", "RE: שלום", "תמר ארז <tamar@example.org>", "he"),
        ("outlook.msg", "Survey with attachment", '"Ana Ruiz" <ana@example.org>', "en"),
    ],
)
def test_email_metadata(made_corpus, tmp_path: Path, name: str, subject: str, sender: str, language: str) -> None:
    _check_email_metadata(made_corpus / name, tmp_path, Path(name).suffix[1:], subject, sender, language)


@pytest.mark.parametrize(
    ("name", "kind", "subject", "sender", "language"),
    [
        ("email-no-utf8-2008-07-16.062410.eml", "eml", "RE: שלום", "Tamir Erez <eryzxx@post.tau.ac.il>", "he"),
        ("fake-email-attachment.msg", "msg", "Fake email with attachment",
         '"Mallori Harrell" <mallori@unstructured.io>', "en"),
    ],
)
def test_real_email_metadata(real_corpus: Path, tmp_path: Path, name: str, kind: str, subject: str, sender: str,
                             language: str) -> None:
    _check_email_metadata(real_corpus / name, tmp_path, kind, subject, sender, language)


def test_pdf_document_metadata(made_corpus) -> None:
    path = made_corpus / "field-manual-7p.pdf"
    md = document_metadata(path, "pdf", elements=_partition(path, path.name), source_name=path.name,
                           sha256="cd" * 32, mime_type="application/pdf", pages=7)
    assert md["pages"] == 7
    assert md["language"] == "en"
    assert md["words"] > 500
    assert md["created"].startswith("2024-03-01")
    assert "email" not in md
