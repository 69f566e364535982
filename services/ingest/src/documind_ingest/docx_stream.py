"""DOCX text streamed from ``word/document.xml`` with lxml's ``iterparse``: each top-level
paragraph or table is turned into a block and then cleared from the tree, so memory stays
bounded however many pages the document has (an 872-page handbook included). Structure
comes from the document itself: heading/title styles are titles, list styles and numbered
paragraphs are list items, tables are tables; page numbers follow Word's page breaks (the
rendered ones Word saves, and explicit ones), as unstructured's DOCX partitioner does."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterator

from documind_ingest.fast_text import LIST_ITEM, NARRATIVE, TABLE, TITLE, Block

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _style_names(archive: zipfile.ZipFile) -> dict[str, str]:
    from lxml import etree

    try:
        data = archive.read("word/styles.xml")
    except KeyError:
        return {}
    root = etree.fromstring(data)
    names = {}
    for style in root.iter(f"{W}style"):
        sid, name = style.get(f"{W}styleId"), style.find(f"{W}name")
        if sid and name is not None:
            names[sid] = (name.get(f"{W}val") or "").lower()
    return names


def _kind(paragraph, styles: dict[str, str]) -> str:  # noqa: ANN001
    ppr = paragraph.find(f"{W}pPr")
    style = ""
    if ppr is not None:
        sref = ppr.find(f"{W}pStyle")
        if sref is not None:
            style = styles.get(sref.get(f"{W}val") or "", (sref.get(f"{W}val") or "").lower())
        if ppr.find(f"{W}numPr") is not None and not style.startswith(("heading", "title")):
            return LIST_ITEM
    if style.startswith(("heading", "title", "subtitle")):
        return TITLE
    if style.startswith("list"):
        return LIST_ITEM
    return NARRATIVE


def _paragraph_text(paragraph) -> str:  # noqa: ANN001
    parts = []
    for node in paragraph.iter(f"{W}t", f"{W}tab", f"{W}br"):
        if node.tag == f"{W}t":
            parts.append(node.text or "")
        elif node.tag == f"{W}tab":
            parts.append("\t")
        elif node.get(f"{W}type") not in ("page", "column"):
            parts.append("\n")
    return " ".join("".join(parts).split())


def _page_breaks(element) -> int:  # noqa: ANN001
    rendered = sum(1 for _ in element.iter(f"{W}lastRenderedPageBreak"))
    explicit = sum(1 for br in element.iter(f"{W}br") if br.get(f"{W}type") == "page")
    # Word saves a rendered break next to an explicit one; count a page once.
    return max(rendered, explicit)


def _table_text(table) -> str:  # noqa: ANN001
    rows = []
    # Direct rows and cells only: a nested table's text is read once, inside its cell.
    for row in table.findall(f"{W}tr"):
        cells = [" ".join(_paragraph_text(p) for p in cell.iter(f"{W}p")).strip() for cell in row.findall(f"{W}tc")]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def iter_docx_blocks(path: Path) -> Iterator[Block]:
    from lxml import etree

    with zipfile.ZipFile(path) as archive:
        styles = _style_names(archive)
        with archive.open("word/document.xml") as fh:
            page = 1
            for _event, el in etree.iterparse(fh, events=("end",), tag=(f"{W}p", f"{W}tbl")):
                parent = el.getparent()
                if parent is None or parent.tag != f"{W}body":
                    continue  # a paragraph or table inside a table: read with its table
                breaks = _page_breaks(el)
                if el.tag == f"{W}tbl":
                    text, kind = _table_text(el), TABLE
                else:
                    text, kind = _paragraph_text(el), _kind(el, styles)
                if text:
                    # A break before the paragraph's text puts the text on the next page.
                    yield Block(kind, text, page + (1 if breaks and _break_first(el) else 0))
                page += breaks
                # Free what is done: this element and the siblings before it.
                el.clear()
                while el.getprevious() is not None:
                    del parent[0]


def _break_first(element) -> bool:  # noqa: ANN001
    """True when a page break comes before any text in the element."""
    for node in element.iter(f"{W}t", f"{W}lastRenderedPageBreak", f"{W}br"):
        if node.tag == f"{W}t":
            if (node.text or "").strip():
                return False
            continue
        if node.tag == f"{W}lastRenderedPageBreak" or node.get(f"{W}type") == "page":
            return True
    return False
