"""Cheap structure for plain text and PDF page text: paragraphs, titles and list items by
layout rules instead of unstructured's per-element NLP classification (which spends ~90 % of
``partition_text``'s time in spaCy on a large book). The output is unstructured elements, so
chunking (``chunk_by_title``) sees titles, page numbers and element types as before."""

from __future__ import annotations

import codecs
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
# Plain text is read this many bytes at a time, and no block is longer than MAX_BLOCK_CHARS:
# chunking one huge element costs time quadratic in its length (each piece re-slices the rest).
READ_WINDOW = 1 << 20
MAX_BLOCK_CHARS = 20_000
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
        blocks.extend(_paragraph_blocks(para, page))
    return blocks


def _paragraph_blocks(para: str, page: int | None) -> list[Block]:
    lines = [ln for ln in para.split("\n") if ln.strip()]
    if not lines:
        return []
    if len(lines) == 1 and looks_like_title(lines[0]):
        return [Block(TITLE, lines[0].strip(), page)]
    if all(_BULLET.match(ln) for ln in lines):
        return [Block(LIST_ITEM, _join([_BULLET.sub("", ln, count=1)]), page) for ln in lines]
    return [Block(NARRATIVE, _join(lines), page)]


def iter_text_blocks(path: Path, encoding: str | None = None, *, window: int = READ_WINDOW) -> Iterator[Block]:
    """``split_plain_text`` over a file read ``window`` bytes at a time: memory holds a window
    and one paragraph of at most MAX_BLOCK_CHARS (a longer one, e.g. 40 MB with no whitespace,
    is cut at its last whitespace before that size, or at that size), never the whole file."""
    codec = encoding or _utf8_or_detected(path, window)
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    pending = ""
    with path.open("rb") as fh:
        while True:
            data = fh.read(window)
            final = not data
            pending += decoder.decode(data, final=final)
            # A CR at the end may be half of a CRLF split across windows: keep it for the next.
            held = "\r" if pending.endswith("\r") and not final else ""
            text = (pending[:-1] if held else pending).replace("\r\n", "\n").replace("\r", "\n")
            paragraphs = _PARAGRAPH_BREAK.split(text)
            pending = ("" if final else paragraphs.pop()) + held
            for para in paragraphs:
                yield from _bounded_blocks(para)
            while len(pending) > MAX_BLOCK_CHARS:
                head, pending = _cut(pending)
                yield from _paragraph_blocks(head, None)
            if final:
                return


def _bounded_blocks(para: str) -> Iterator[Block]:
    while len(para) > MAX_BLOCK_CHARS:
        head, para = _cut(para)
        yield from _paragraph_blocks(head, None)
    yield from _paragraph_blocks(para, None)


def _utf8_or_detected(path: Path, window: int) -> str:
    """utf-8-sig when the whole file decodes as UTF-8 (checked window by window, nothing
    kept), else the codec unstructured's detector names."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with path.open("rb") as fh:
            while data := fh.read(window):
                decoder.decode(data)
            decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        from unstructured.file_utils.encoding import detect_file_encoding

        return detect_file_encoding(filename=str(path))[0]


def _cut(text: str) -> tuple[str, str]:
    """Split an overlong paragraph at its last whitespace before MAX_BLOCK_CHARS, or there."""
    at = max(text.rfind(" ", 0, MAX_BLOCK_CHARS), text.rfind("\n", 0, MAX_BLOCK_CHARS))
    if at <= MAX_BLOCK_CHARS // 2:
        at = MAX_BLOCK_CHARS
    return text[:at], text[at:]


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


def plain_text_elements(path: Path, encoding: str | None = None) -> list[Any]:
    return to_elements(iter_text_blocks(path, encoding))


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
