"""Cheap structure for plain text and PDF page text: paragraphs, titles and list items by
layout rules instead of unstructured's per-element NLP classification (which spends ~90 % of
``partition_text``'s time in spaCy on a large book). The output is unstructured elements, so
chunking (``chunk_by_title``) sees titles, page numbers and element types as before."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

TITLE = "Title"
NARRATIVE = "NarrativeText"
LIST_ITEM = "ListItem"
TABLE = "Table"

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")
_BULLET = re.compile(r"^\s*(?:[-*\u2022\u25cf\u25aa\u2013]|\d{1,3}[.)]|[a-zA-Z][.)])\s+")
_SPACES = re.compile(r"\s+")
_TERMINAL = tuple(".!?;:,\"'\u201d\u2019)")
TITLE_MAX_CHARS = 80
TITLE_MAX_WORDS = 12


@dataclass(frozen=True)
class Block:
    kind: str  # TITLE, NARRATIVE, LIST_ITEM or TABLE (unstructured element class names)
    text: str
    page: int | None = None


def looks_like_title(line: str) -> bool:
    """A short line that does not end like a sentence and starts with a capital or a digit,
    with most words capitalised: "CHAPTER I", "BOOK ONE: 1805", "Emissaries"."""
    line = line.strip()
    if not line or len(line) > TITLE_MAX_CHARS or line.endswith(_TERMINAL):
        return False
    words = line.split()
    if len(words) > TITLE_MAX_WORDS or not (line[0].isupper() or line[0].isdigit()):
        return False
    if not any(c.isalpha() for c in line):
        return False  # page numbers, rulers, dates alone
    capitalised = sum(1 for w in words if w[0].isupper() or w[0].isdigit() or not w[0].isalpha())
    return capitalised * 2 >= len(words)


def _join(lines: Iterable[str]) -> str:
    return _SPACES.sub(" ", " ".join(lines)).strip()


def split_plain_text(text: str, page: int | None = None) -> list[Block]:
    """Blank lines separate paragraphs; a one-line paragraph that looks like a heading is a
    title; a paragraph whose lines all start with a bullet is a list, one item per line."""
    blocks: list[Block] = []
    for para in _PARAGRAPH_BREAK.split(text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = [ln for ln in para.split("\n") if ln.strip()]
        if not lines:
            continue
        if len(lines) == 1 and looks_like_title(lines[0]):
            blocks.append(Block(TITLE, lines[0].strip(), page))
        elif all(_BULLET.match(ln) for ln in lines):
            blocks.extend(Block(LIST_ITEM, _join([_BULLET.sub("", ln, count=1)]), page) for ln in lines)
        else:
            blocks.append(Block(NARRATIVE, _join(lines), page))
    return blocks


def split_page_lines(text: str, page: int) -> list[Block]:
    """PDF page text has one line per layout line and rarely blank lines: a paragraph ends at a
    line that ends a sentence and stops short of the page's typical line width; a short
    heading-like line on its own is a title."""
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    if not lines:
        return []
    width = sorted(len(ln) for ln in lines)[int(len(lines) * 0.9) - 1 if len(lines) > 1 else 0]
    blocks: list[Block] = []
    current: list[str] = []

    def flush() -> None:
        if current:
            blocks.append(Block(NARRATIVE, _join(current), page))
            current.clear()

    for line in lines:
        if looks_like_title(line) and len(line) < 0.7 * max(width, 1):
            flush()
            blocks.append(Block(TITLE, line, page))
            continue
        if _BULLET.match(line) and not current:
            blocks.append(Block(LIST_ITEM, _join([_BULLET.sub("", line, count=1)]), page))
            continue
        current.append(line)
        if line.endswith((".", "!", "?", ":", "\u201d", '"')) and len(line) < 0.85 * width:
            flush()
    flush()
    return blocks


def to_elements(blocks: Iterable[Block]) -> list[Any]:
    """unstructured elements (imported lazily: it is heavy) carrying the page number."""
    from unstructured.documents.elements import ElementMetadata, ListItem, NarrativeText, Table, Title

    classes = {TITLE: Title, NARRATIVE: NarrativeText, LIST_ITEM: ListItem, TABLE: Table}
    return [classes[b.kind](text=b.text, metadata=ElementMetadata(page_number=b.page)) for b in blocks]


def read_text_file(path: Path, encoding: str | None = None) -> str:
    """``encoding``: the codec validation found (UTF-16/32 without a BOM, legacy 8-bit);
    None means UTF-8 (or let unstructured's detector decide if it is not)."""
    data = path.read_bytes()
    if encoding:
        return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        from unstructured.file_utils.encoding import detect_file_encoding

        encoding, _ = detect_file_encoding(filename=str(path))
        return data.decode(encoding, errors="replace")


def plain_text_elements(path: Path, encoding: str | None = None) -> list[Any]:
    return to_elements(split_plain_text(read_text_file(path, encoding)))


def batches(blocks: Iterable[Block], max_chars: int) -> Iterator[list[Block]]:
    """Consecutive runs of blocks of about ``max_chars`` characters, cut before a title when
    possible, so a streamed document is chunked batch by batch in bounded memory."""
    batch: list[Block] = []
    size = 0
    for block in blocks:
        if batch and (size >= max_chars * 2 or (size >= max_chars and block.kind == TITLE)):
            yield batch
            batch, size = [], 0
        batch.append(block)
        size += len(block.text)
    if batch:
        yield batch
