"""documind_ingest.metadata: the file's own properties per format, e-mail headers, language,
and the full record stored on documents.metadata."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from documind_ingest.metadata import detect_language, document_metadata, file_properties


def test_pdf_info_dictionary(corpus: Path) -> None:
    props = file_properties(corpus / "invalid-pdf-structure-pdfminer-one-page.pdf", "pdf")
    assert props["title"].startswith("GAO-23-106826, Cybersecurity")
    assert props["authors"] == ["U.S. Government Accountability Office, http://www.gao.gov"]
    assert props["created"] == "2023-06-26T20:20:52-04:00"
    assert props["modified"] == "2023-06-28T09:23:58-04:00"
    assert props["pages"] == 2


def test_owner_password_pdf_properties(corpus: Path) -> None:
    props = file_properties(corpus / "copy-protected.pdf", "pdf")
    assert props["pages"] == 2 and props["created"].startswith("2023-04-21")


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


def test_epub_and_office_files_of_the_corpus(corpus: Path) -> None:
    epub = file_properties(corpus / "winter-sports.epub", "epub")
    assert epub["title"] == "Winter Sports in Switzerland" and epub["authors"] == ["E. F. Benson"]
    xlsx = file_properties(corpus / "2023-half-year-analyses-by-segment.xlsx", "xlsx")
    assert xlsx["authors"] == ["ibays"] and xlsx["modified"] == "2023-07-26T18:31:42Z"
    doc = file_properties(corpus / "fake-doc-emphasized-text.doc", "doc")
    assert doc["authors"] == ["Win"] and doc["created"] == "2023-08-04T07:32:00"
    # OLE's zero date ("never saved") is no date.
    assert file_properties(corpus / "fake-power-point.ppt", "ppt")["modified"] is None


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


@pytest.mark.parametrize(
    ("name", "kind", "subject", "sender", "language"),
    [
        ("email-no-utf8-2008-07-16.062410.eml", "eml", "RE: שלום", "Tamir Erez <eryzxx@post.tau.ac.il>", "he"),
        ("fake-email-attachment.msg", "msg", "Fake email with attachment",
         '"Mallori Harrell" <mallori@unstructured.io>', "en"),
    ],
)
def test_email_metadata(corpus: Path, tmp_path: Path, name: str, kind: str, subject: str, sender: str, language: str) -> None:
    stored = tmp_path / "stored"
    shutil.copy(corpus / name, stored)
    md = document_metadata(stored, kind, elements=_partition(stored, name), source_name=name,
                           sha256="ab" * 32, mime_type="message/rfc822", pages=None)
    assert md["email"]["subject"] == subject
    assert md["email"]["from"] == [sender]
    assert md["email"]["to"] and md["email"]["message_id"]
    assert md["email"]["date"]
    assert md["title"] == subject and md["authors"] == [sender]
    assert md["language"] == language
    assert md["source_name"] == name and md["sha256"] == "ab" * 32
    assert md["words"] > 5


def test_pdf_document_metadata(corpus: Path) -> None:
    path = corpus / "layout-parser-paper-fast.pdf"
    md = document_metadata(path, "pdf", elements=_partition(path, path.name), source_name=path.name,
                           sha256="cd" * 32, mime_type="application/pdf", pages=2)
    assert md["pages"] == 2
    assert md["language"] == "en"
    assert md["words"] > 500
    assert md["modified"].startswith("2022-11-15")
    assert "email" not in md
