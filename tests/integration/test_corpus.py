"""Every file of a corpus ends in the state a careful person expects: ``completed`` with its
text, or ``failed`` with a reason a person understands. Nothing stays non-final.

Two corpora, each with its own expectation table: the generated one (tests/made_corpus.py),
which every clone has, and the real one (DOCUMIND_CORPUS, or ../shared/corpus), whose tests
skip where it is absent. Runs on the distributed stack (real Redis, Postgres, one worker
process per service). The largest files are marked ``large`` (minutes each); ``make
test-quick`` skips them."""

from __future__ import annotations

import shutil

import pytest

from tests.integration.harness import wait_for
from tests.made_corpus import LARGE as MADE_LARGE
from tests.made_corpus import NEEDS_SOFFICE

pytestmark = pytest.mark.integration

# Generated corpus: file -> ("failed", words the reason must contain) or ("completed", a
# phrase its text has).
MADE_EXPECTED: dict[str, tuple[str, str]] = {
    # bad inputs
    "empty.txt": ("failed", "file is empty"),
    "user-password.pdf": ("failed", "PDF is password protected"),
    "password-protected.xlsx": ("failed", "password protected"),
    "encrypted.eml": ("failed", "email is encrypted"),
    "junk_without_extension": ("failed", "too little text"),
    # PDFs: text layer over several page ranges, two columns, owner-password only, broken
    # cross-references, a scan without a text layer (OCR)
    "field-manual-7p.pdf": ("completed", "crevasse zone"),
    "two-columns-2p.pdf": ("completed", "retrieved by its dense vector"),
    "owner-password-only.pdf": ("completed", "Field Notes"),
    "broken-xref.pdf": ("completed", "Field Notes"),
    "scan-no-text-layer.pdf": ("completed", "Lorem ipsum"),
    # images (OCR)
    "scan.png": ("completed", "glaciers"),
    "photo.jpg": ("completed", "glaciers"),
    # office, legacy office (LibreOffice), open formats (pandoc)
    "tables.docx": ("completed", "Header Station"),
    "slides.pptx": ("completed", "Tangerine"),
    "slides-malformed.pptx": ("completed", "Tangerine"),
    "segments.xlsx": ("completed", "Revenue"),
    "legacy.doc": ("completed", "Header Station"),
    "legacy.ppt": ("completed", "Adding a Bullet Slide"),
    "legacy.xls": ("completed", "Revenue"),
    "survey.odt": ("completed", "favorite things"),
    "survey.rtf": ("completed", "twelve metres"),
    "survey.epub": ("completed", "Glacier Survey"),
    # text formats and encodings
    "long-lines.csv": ("completed", "SpearmanCorrelationCoefficient"),
    "cups.tsv": ("completed", "Blues"),
    "cp1252.html": ("completed", "Die schöne Frau"),
    "factbook.xml": ("completed", "United States"),
    "codeblock.md": ("completed", "Hello, World"),
    "umlauts-latin1.md": ("completed", "können"),
    "README.rst": ("completed", "Example Docs"),
    "notes.txt": ("completed", "twelve metres"),
    "languages.txt": ("completed", "dignity"),
    # email, including one saved as .txt and one with legacy-encoded headers
    "plain.eml": ("completed", "twelve metres"),
    "legacy-headers.eml": ("completed", "הפגישה תתקיים מחר בבוקר"),
    "email-saved-as.txt": ("completed", "This is a test email"),
    "outlook.msg": ("completed", "North Ridge station"),  # its attachment's text
    # large
    "manual-640p.pdf": ("completed", "crevasse zone"),
    "handbook-300p.docx": ("completed", "Trustee"),
    "book-2mb.txt": ("completed", "Natasha"),
    "filing-2mb.html": ("completed", "Form 10-K"),
}
MADE_ABSENT: dict[str, tuple[str, ...]] = {
    "legacy-headers.eml": ("Content-Type:", "Received:", "Message-ID:"),
    "email-saved-as.txt": ("Content-Type:", "MIME-Version:"),
    "plain.eml": ("Content-Type:", "MIME-Version:"),
}
MADE_PAGES = {"manual-640p.pdf": 640}

# Real corpus (its MANIFEST.tsv lists the files).
LARGE = {"DA-619p.pdf", "handbook-872p.docx", "book-war-and-peace-1225p.txt", "example-10k.html"}

# file -> ("failed", words the reason must contain) or ("completed", a phrase its text has)
EXPECTED: dict[str, tuple[str, str]] = {
    # bad inputs
    "empty.txt": ("failed", "file is empty"),
    "password.pdf": ("failed", "PDF is password protected"),
    "password_protected.xlsx": ("failed", "password protected"),
    "fake-encrypted.eml": ("failed", "email is encrypted"),
    "file_we_dont_want_imported": ("failed", "too little text"),
    # PDFs: text layer, owner-password only, broken structure, scans (OCR)
    "layout-parser-paper-fast.pdf": ("completed", "LayoutParser"),
    "multi-column-2p.pdf": ("completed", "passage"),
    "korean-text-with-tables.pdf": ("completed", "할인점"),
    "copy-protected.pdf": ("completed", "the"),
    "invalid-pdf-structure-pdfminer-one-page.pdf": ("completed", "the"),
    "pdf-with-ocr-text.pdf": ("completed", "the"),
    "loremipsum-flat.pdf": ("completed", "Lorem ipsum"),
    # images (OCR)
    # Korean too: DOCUMIND_OCR_LANGUAGES defaults to eng+kor.
    "english-and-korean.png": ("completed", "바랍니다"),
    "layout-parser-paper-fast.jpg": ("completed", "Layout"),
    # office, legacy office (LibreOffice), open formats
    "docx-tables.docx": ("completed", "Header"),
    "fake-doc-emphasized-text.doc": ("completed", "bold"),
    "fake-power-point-table.pptx": ("completed", "Tangerine"),
    "fake-power-point-malformed.pptx": ("completed", "Test Slide"),
    "fake-power-point.ppt": ("completed", "Adding a Bullet Slide"),
    "2023-half-year-analyses-by-segment.xlsx": ("completed", "Revenue"),
    "tests-example.xls": ("completed", "MC"),
    "simple.odt": ("completed", "favorite things"),
    "fake-doc.rtf": ("completed", "Table"),
    "winter-sports.epub": ("completed", "Winter"),
    # text formats and encodings
    "csv-with-long-lines.csv": ("completed", "SpearmanCorrelationCoefficient"),
    "stanley-cups.tsv": ("completed", "Blues"),
    "fake-html-cp1252.html": ("completed", "Die schöne Frau"),
    "factbook.xml": ("completed", "United States"),
    "codeblock.md": ("completed", "Hello, World"),
    "umlauts-non-utf8.md": ("completed", "können"),
    "README.rst": ("completed", "Example Docs"),
    "norwich-city.txt": ("completed", "Norwich"),
    "UDHR_first_article_all.txt": ("completed", "dignity"),
    # email, including one saved as .txt and one with legacy-encoded headers
    # Its Hebrew body, not MIME source: the stored copy has no extension, the upload name says .eml.
    "email-no-utf8-2008-07-16.062410.eml": ("completed", "שזה לא יהיה מקצועי"),
    "fake-email.txt": ("completed", "This is a test email"),
    "fake-email-attachment.msg": ("completed", "Here's the attachments"),
    # large
    "DA-619p.pdf": ("completed", "the"),
    "handbook-872p.docx": ("completed", "Trustee"),
    "book-war-and-peace-1225p.txt": ("completed", "Natasha"),
    "example-10k.html": ("completed", "Form 10-K"),
}


# file -> text that must NOT be in its chunks (what a wrong parser would index)
ABSENT: dict[str, tuple[str, ...]] = {
    "email-no-utf8-2008-07-16.062410.eml": ("Content-Type:", "Received:", "Message-ID:"),
    "fake-email.txt": ("Content-Type:", "MIME-Version:"),
}


def _manifest(corpus) -> list[str]:
    lines = (corpus / "MANIFEST.tsv").read_text().splitlines()[1:]
    return [line.split("\t")[1] for line in lines if line.strip()]


def _run(corpus_stack, corpus, tmp_path, names, expected, absent):
    for name in names:
        shutil.copy(corpus / name, tmp_path / name)
    docs = {d["source_name"]: d for d in corpus_stack.ingest(tmp_path)}
    problems = []
    for name in names:
        doc = docs[name]
        want, needle = expected[name]
        if doc["status"] != want:
            problems.append(f"{name}: {doc['status']} ({doc['error']}), expected {want}")
            continue
        if want == "failed":
            if needle not in (doc["error"] or ""):
                problems.append(f"{name}: reason {doc['error']!r} lacks {needle!r}")
            continue
        text = " ".join(
            t for (t,) in corpus_stack.sql(f"SELECT text FROM chunks WHERE document_id = '{doc['id']}'")
        )
        if needle.lower() not in text.lower():
            problems.append(f"{name}: text lacks {needle!r} (starts {text[:120]!r})")
        problems += [f"{name}: text has {junk!r}" for junk in absent.get(name, ()) if junk in text]
    assert not problems, "\n".join(problems)
    # Nothing left in a non-final state, and the workers are all still alive.
    stuck = corpus_stack.sql("SELECT source_name, status FROM documents WHERE status IN ('received', 'processing')")
    assert not stuck, stuck
    assert all(w.poll() is None for w in corpus_stack.workers), corpus_stack.worker_logs()
    return docs


def _check_enriched(corpus_stack, docs) -> None:
    """Every completed document of the run ends enriched (entities, sentiment, quality): the
    follow-up that runs after searchability finishes on every format, not only on the
    examples the enrichment tests use."""
    ids = ",".join(f"'{d['id']}'" for d in docs.values() if d["status"] == "completed")
    query = (f"SELECT source_name FROM documents WHERE id IN ({ids}) "
             "AND (enriched_generation IS NULL OR enriched_generation <> generation)")
    left = wait_for(lambda: corpus_stack.sql(query), lambda rows: not rows, timeout=900, interval=2)
    assert not left, f"not enriched: {left}\n{corpus_stack.worker_logs()}"


def _check_large(corpus_stack, docs, pages: dict[str, int]) -> None:
    # Large documents: every chunk within the model window, pages recorded for the PDF.
    ids = ",".join(f"'{d['id']}'" for d in docs.values())
    (longest,) = corpus_stack.sql(f"SELECT max(token_count) FROM chunks WHERE document_id IN ({ids})")[0]
    assert longest <= 256
    for name, at_least in pages.items():
        (last,) = corpus_stack.sql(
            f"SELECT max(page_end) FROM chunks WHERE document_id = '{docs[name]['id']}'"
        )[0]
        assert last and last >= at_least, (name, last)


# --- generated corpus -----------------------------------------------------------------------


def _made_names(corpus, names) -> list[str]:
    """Those this machine can make (test_legacy_office_files_... skips, saying why, for the rest)."""
    return sorted(n for n in names if not corpus.unavailable(n))


def test_expectations_cover_the_whole_made_corpus(made_corpus):
    assert sorted(made_corpus.names()) == sorted(MADE_EXPECTED)
    assert MADE_LARGE <= set(MADE_EXPECTED)


def test_made_corpus_documents_end_as_expected(corpus_stack, made_corpus, tmp_path):
    docs = _run(corpus_stack, made_corpus, tmp_path, _made_names(made_corpus, set(MADE_EXPECTED) - MADE_LARGE),
                MADE_EXPECTED, MADE_ABSENT)
    _check_enriched(corpus_stack, docs)


@pytest.mark.parametrize("name", sorted(NEEDS_SOFFICE))
def test_legacy_office_files_are_made_where_libreoffice_is(made_corpus, name):
    # Says clearly, per file, when LibreOffice is missing (the run above leaves them out).
    assert (made_corpus / name).stat().st_size > 0


@pytest.mark.large
def test_large_made_corpus_documents_complete(large_corpus_stack, made_corpus, tmp_path):
    docs = _run(large_corpus_stack, made_corpus, tmp_path, sorted(MADE_LARGE), MADE_EXPECTED, MADE_ABSENT)
    _check_large(large_corpus_stack, docs, MADE_PAGES)


# --- real corpus ----------------------------------------------------------------------------
# real_corpus comes first in each signature: without the corpus, the test skips before a stack starts.


def test_expectations_cover_the_whole_manifest(real_corpus):
    assert sorted(_manifest(real_corpus)) == sorted(EXPECTED)


def test_corpus_documents_end_as_expected(real_corpus, corpus_stack, tmp_path):
    docs = _run(corpus_stack, real_corpus, tmp_path, sorted(set(EXPECTED) - LARGE), EXPECTED, ABSENT)
    _check_enriched(corpus_stack, docs)


@pytest.mark.large
def test_large_corpus_documents_complete(real_corpus, large_corpus_stack, tmp_path):
    docs = _run(large_corpus_stack, real_corpus, tmp_path, sorted(LARGE), EXPECTED, ABSENT)
    _check_large(large_corpus_stack, docs, {"DA-619p.pdf": 601})
