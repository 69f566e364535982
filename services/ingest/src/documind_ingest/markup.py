"""HTML and XML that would defeat a tree parser: entity-expansion bombs and extreme nesting.

- XML entity declarations (``<!ENTITY``) are refused: the billion-laughs bomb expands a few
  hundred bytes into gigabytes, and documents worth indexing do not declare entities. The
  check is defusedxml's expat reader (streamed, non-recursive), before unstructured's lxml
  parser sees the file.
- Nesting deeper than MAX_DEPTH: libxml2 (lxml, under unstructured) stops at 256 levels
  without XML_PARSE_HUGE, so a readable page inside 100,000 ``<div>`` came out as "no text".
  Such files take the flat path instead: one streamed pass of a tokenizer (stdlib
  ``html.parser``, expat for XML), which keeps a counter, not a tree, and yields the text
  as paragraphs, in bounded memory whatever the depth."""

from __future__ import annotations

import codecs
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Iterator
from xml.sax.handler import ContentHandler

from documind.errors import CorruptFile, UnsafeArchive

from documind_ingest.fast_text import MAX_BLOCK_CHARS, NARRATIVE, Block, _join

MARKUP_KINDS = {"html", "xml"}
# libxml2's own nesting limit without XML_PARSE_HUGE; real pages stay far below it.
MAX_DEPTH = 256
WINDOW = 1 << 16
# Tags that end a paragraph of the flat text; whose content is no text (script, style).
_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "table", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
    "section", "article", "header", "footer", "blockquote", "pre", "title", "dd", "dt", "hr", "body",
}
_HIDDEN_TAGS = {"script", "style", "template", "noscript"}
_VOID_TAGS = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
}


def flat_markup(path: Path, kind: str, encoding: str | None = None) -> bool:
    """Whether an HTML/XML upload takes the flat path (nested deeper than MAX_DEPTH). Raises
    UnsafeArchive for XML that declares entities."""
    if kind not in MARKUP_KINDS:
        return False
    if kind == "xml":
        return _xml_scan(path, collect=False).max_depth > MAX_DEPTH
    scanner = _HtmlText(collect=False)
    for _ in _feed_html(scanner, path, encoding):
        pass
    return scanner.max_depth > MAX_DEPTH


def markup_blocks(path: Path, kind: str, encoding: str | None = None) -> Iterator[Block]:
    """The text of an HTML/XML file as paragraphs, streamed (the flat path)."""
    if kind == "xml":
        yield from _xml_scan(path, collect=True).take()
        return
    parser = _HtmlText(collect=True)
    for _ in _feed_html(parser, path, encoding):
        yield from parser.take()
    yield from parser.take(final=True)


# ---- HTML -----------------------------------------------------------------------------
class _Collector:
    def __init__(self, collect: bool) -> None:
        self.collect = collect
        self.depth = self.max_depth = 0
        self.parts: list[str] = []
        self.size = 0
        self.blocks: list[Block] = []

    def text(self, data: str) -> None:
        if self.collect and data.strip():
            self.parts.append(data)
            self.size += len(data)
            if self.size > MAX_BLOCK_CHARS:
                self.flush()

    def flush(self) -> None:
        if self.parts:
            text = _join(self.parts)
            if text:
                self.blocks.append(Block(NARRATIVE, text))
            self.parts, self.size = [], 0

    def take(self, final: bool = False) -> list[Block]:
        if final:
            self.flush()
        blocks, self.blocks = self.blocks, []
        return blocks


class _HtmlText(HTMLParser, _Collector):
    def __init__(self, collect: bool) -> None:
        HTMLParser.__init__(self, convert_charrefs=True)
        _Collector.__init__(self, collect)
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        if tag in _BLOCK_TAGS:
            self.flush()
        if tag not in _VOID_TAGS:
            self.depth += 1
            self.max_depth = max(self.max_depth, self.depth)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS and self.hidden:
            self.hidden -= 1
        if tag in _BLOCK_TAGS:
            self.flush()
        if tag not in _VOID_TAGS and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.text(data)


def _feed_html(parser: _HtmlText, path: Path, encoding: str | None) -> Iterator[None]:
    """Feed the file window by window; yields after each window (the caller takes blocks)."""
    decoder = codecs.getincrementaldecoder(encoding or "utf-8-sig")(errors="replace")
    with path.open("rb") as fh:
        while data := fh.read(WINDOW):
            parser.feed(decoder.decode(data))
            yield
    parser.feed(decoder.decode(b"", final=True))
    parser.close()
    yield


# ---- XML ------------------------------------------------------------------------------
class _XmlText(ContentHandler, _Collector):
    def __init__(self, collect: bool) -> None:
        ContentHandler.__init__(self)
        _Collector.__init__(self, collect)

    def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 - SAX names
        self.flush()
        self.depth += 1
        self.max_depth = max(self.max_depth, self.depth)

    def endElement(self, name: str) -> None:  # noqa: N802
        self.flush()
        self.depth -= 1

    def characters(self, content: str) -> None:
        self.text(content)


def _xml_scan(path: Path, *, collect: bool) -> _XmlText:
    """One streamed expat pass (defusedxml: entity declarations and external references
    raise). With ``collect`` the handler keeps the text's paragraphs (at most
    DOCUMIND_MAX_TEXT_BYTES of them: the text budget bounds the file)."""
    import xml.sax

    from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
    from defusedxml.sax import make_parser

    handler = _XmlText(collect)
    parser = make_parser()
    parser.setContentHandler(handler)  # type: ignore[arg-type]
    try:
        with path.open("rb") as fh:
            while data := fh.read(WINDOW):
                parser.feed(data)
        parser.close()
    except (EntitiesForbidden, ExternalReferenceForbidden, DTDForbidden) as exc:
        raise UnsafeArchive(
            f"XML declares entities ({exc}): refused as a possible entity-expansion bomb"
        ) from None
    except xml.sax.SAXParseException as exc:
        raise CorruptFile(f"could not read xml file: {exc}") from None
    handler.flush()
    return handler
