"""End to end on the distributed stack (real Postgres, Redis, one worker process per service),
on generated files: the .eml whose stored copy has no extension is indexed as an e-mail,
metadata shows on `documind status --json`, `documind rendition` prints and writes each
rendition and refuses clearly when there is none, and `documind delete` removes the rendition
files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.made_corpus import pandoc_document

pytestmark = pytest.mark.integration

EMAIL = "legacy-headers.eml"
HEBREW = "הפגישה תתקיים מחר בבוקר"


@pytest.fixture(scope="module")
def docs(corpus_stack, made_corpus, tmp_path_factory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("renditions")
    for name in (EMAIL, "encrypted.eml", "scan.png"):
        shutil.copy(made_corpus / name, folder / name)
    pandoc_document(folder / "survey.docx", "docx",
                    "# Glacier Survey\n\nThe glaciers of the valley retreated twelve metres this year.\n",
                    author="Ana Ruiz")
    return {d["source_name"]: d for d in corpus_stack.ingest(folder)}


def test_email_is_indexed_as_email_with_its_headers(corpus_stack, docs) -> None:
    doc = docs[EMAIL]
    assert doc["status"] == "completed", doc["error"]
    text = " ".join(t for (t,) in corpus_stack.sql(f"SELECT text FROM chunks WHERE document_id = '{doc['id']}'"))
    assert HEBREW in text
    assert "Content-Type:" not in text and "Received:" not in text
    md = corpus_stack.status(doc["id"])["metadata"]
    assert md["kind"] == "eml" and md["mime_type"] == "message/rfc822"
    assert md["email"]["subject"] == "RE: שלום"
    assert md["email"]["from"] == ["תמר ארז <tamar@example.org>"]
    assert md["email"]["message_id"] == "glacier-survey-1@example.org"
    assert md["language"] == "he"
    assert md["sha256"] == doc["sha256"] and md["source_name"] == EMAIL
    assert md["words"] > 20


def test_docx_properties_in_status(corpus_stack, docs) -> None:
    md = corpus_stack.status(docs["survey.docx"]["id"])["metadata"]
    assert md["title"] == "Glacier Survey" and md["authors"] == ["Ana Ruiz"]
    assert md["language"] == "en"


def test_rendition_cli_prints_and_writes(corpus_stack, docs, tmp_path: Path) -> None:
    doc_id = docs["survey.docx"]["id"]
    md = corpus_stack.cli("rendition", doc_id, "--format", "md").stdout
    assert "# Glacier Survey" in md and "retreated twelve metres" in md
    txt = corpus_stack.cli("rendition", doc_id, "--format", "txt").stdout
    assert txt.startswith("Glacier Survey") and "#" not in txt
    out = tmp_path / "elements.json"
    res = corpus_stack.cli("rendition", doc_id, "--format", "json", "-o", str(out))
    assert res.stdout == "" and str(out) in res.stderr
    elements = json.loads(out.read_text())
    assert elements[0]["type"] == "Title" and elements[0]["text"] == "Glacier Survey"
    email_md = corpus_stack.cli("rendition", docs[EMAIL]["id"], "--format", "md").stdout
    assert HEBREW in email_md


def test_scan_has_a_searchable_pdf_rendition(corpus_stack, docs, tmp_path: Path) -> None:
    from pypdf import PdfReader

    doc = docs["scan.png"]
    assert doc["status"] == "completed", doc["error"]
    out = tmp_path / "scan.pdf"
    corpus_stack.cli("rendition", doc["id"], "--format", "pdf", "-o", str(out))
    assert "glaciers" in PdfReader(str(out)).pages[0].extract_text()
    # A born-digital document has none, and says what it has.
    res = corpus_stack.cli("rendition", docs["survey.docx"]["id"], "--format", "pdf", check=False)
    assert res.code == 1 and "no pdf rendition (available: json, md, txt)" in res.stderr


def test_rendition_of_a_failed_document_is_a_clear_error(corpus_stack, docs) -> None:
    doc = docs["encrypted.eml"]
    assert doc["status"] == "failed"
    res = corpus_stack.cli("rendition", doc["id"], "--format", "md", check=False)
    assert res.code == 1
    assert res.stderr.strip() == (
        f"documind: error: {doc['id']}: this document has no md rendition (available: none) (status failed)"
    )


def test_delete_removes_renditions(corpus_stack, docs) -> None:
    doc_id = docs["survey.docx"]["id"]
    keys = corpus_stack.status(doc_id)["metadata"]["renditions"]
    files = Path(corpus_stack.env["DOCUMIND_DATA_DIR"]) / "files"
    assert sorted(keys) == ["json", "md", "txt"]
    assert all((files / key).is_file() for key in keys.values())
    corpus_stack.cli("delete", doc_id, "--json")
    assert not any((files / key).exists() for key in keys.values())
    res = corpus_stack.cli("rendition", doc_id, check=False)
    assert res.code == 1 and "no such document" in res.stderr
