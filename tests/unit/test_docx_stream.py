"""Streamed DOCX extraction: styles give titles/list items, tables stay tables, page breaks
give page numbers, and the text matches what unstructured reads from the same file."""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from documind_ingest.docx_stream import iter_docx_blocks
from documind_ingest.fast_text import LIST_ITEM, NARRATIVE, TABLE, TITLE, Block, batches
from tests.conftest import require_real_corpus

W_NS = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
STYLES = f"""<?xml version="1.0"?><w:styles {W_NS}>
<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style>
<w:style w:type="paragraph" w:styleId="ListBullet"><w:name w:val="List Bullet"/></w:style>
</w:styles>"""


def para(text: str, style: str | None = None, page_break_before: bool = False) -> str:
    ppr = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    br = '<w:r><w:br w:type="page"/></w:r>' if page_break_before else ""
    return f"<w:p>{ppr}{br}<w:r><w:t>{text}</w:t></w:r></w:p>"


def make_docx(path: Path, body: str) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", f'<?xml version="1.0"?><w:document {W_NS}><w:body>{body}</w:body></w:document>')
        z.writestr("word/styles.xml", STYLES)
    return path


def test_styles_tables_and_page_breaks(tmp_path: Path) -> None:
    table = (
        "<w:tbl><w:tr><w:tc>" + para("Fee") + "</w:tc><w:tc>" + para("Amount") + "</w:tc></w:tr>"
        "<w:tr><w:tc>" + para("Filing") + "</w:tc><w:tc>" + para("$313") + "</w:tc></w:tr></w:tbl>"
    )
    body = (
        para("Chapter 1 Introduction", "Heading1")
        + para("The trustee administers the case.")
        + para("first duty", "ListBullet")
        + table
        + para("Chapter 2 Duties", "Heading1", page_break_before=True)
        + para("")
    )
    blocks = list(iter_docx_blocks(make_docx(tmp_path / "t.docx", body)))
    assert blocks == [
        Block(TITLE, "Chapter 1 Introduction", 1),
        Block(NARRATIVE, "The trustee administers the case.", 1),
        Block(LIST_ITEM, "first duty", 1),
        Block(TABLE, "Fee | Amount\nFiling | $313", 1),
        Block(TITLE, "Chapter 2 Duties", 2),
    ]


@pytest.mark.parametrize("source", ["made", "real"])
def test_handbook_keeps_every_word_of_its_body(made_corpus, source: str) -> None:
    """Against every w:t text of document.xml (the bench compares with unstructured: slow):
    a generated handbook, and a real one (Word's own run splits) where the corpus is."""
    from lxml import etree

    if source == "made":
        path = made_corpus / "handbook-300p.docx"
    else:
        path = require_real_corpus() / "handbook-872p.docx"
    blocks = list(iter_docx_blocks(path))
    ours = Counter(w for b in blocks for w in re.findall(r"\w+", b.text))
    with zipfile.ZipFile(path) as z:
        root = etree.fromstring(z.read("word/document.xml"))
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    # Runs split words ("Trus" + "tee"): compare per paragraph, joined as Word shows them
    # (a tab separates words).
    source = Counter(
        w for p in root.iter(f"{ns}p") if not any(a.tag == f"{ns}p" for a in p.iterancestors())
        for w in re.findall(r"\w+", "".join(t.text or "" if t.tag == f"{ns}t" else " " for t in p.iter(f"{ns}t", f"{ns}tab")))
    )
    assert ours == source
    assert sum(b.kind == TITLE for b in blocks) > 100 and max(b.page for b in blocks) > 10


def test_batches_keep_order_and_cut_before_titles() -> None:
    blocks = [Block(TITLE if i % 10 == 0 else NARRATIVE, "x" * 100, 1) for i in range(100)]
    out = list(batches(blocks, 1000))
    assert [b for batch in out for b in batch] == blocks
    assert len(out) > 3
    assert all(batch[0].kind == TITLE for batch in out)
    assert all(sum(len(b.text) for b in batch) <= 2000 for batch in out)
