"""Document metadata stored on ``documents.metadata``: the file's own properties (PDF info
dictionary, OOXML/ODF/EPUB core properties, OLE summary information, e-mail headers) plus
what we measured (pages, words, language, type, checksum).

Every property reader is best-effort: a document whose properties are missing or broken
still completes, with those fields ``None``."""

from __future__ import annotations

import functools
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable
from xml.etree import ElementTree

LANGUAGE_SAMPLE_CHARS = 20_000
# Below this normalized probability the text is too mixed or too odd to name one language.
MIN_LANGUAGE_PROBABILITY = 0.5

_NS = {
    "cp": "http://schemas.openxmlformats.org/package/2006/metadata/core-properties",
    "dc": "http://purl.org/dc/elements/1.1/",
    "dcterms": "http://purl.org/dc/terms/",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "container": "urn:oasis:names:tc:opendocument:xmlns:container",
    "opf": "http://www.idpf.org/2007/opf",
    "ep": "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties",
}


def _clean(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        # OLE writes a zero FILETIME (1601-01-01) for "never saved".
        return value.isoformat() if value.year >= 1900 else None
    if isinstance(value, str):
        value = value.strip().strip("\x00")
        return value or None
    return value


def _authors(*values: Any) -> list[str]:
    out: list[str] = []
    for v in values:
        v = _clean(v)
        if isinstance(v, str):
            # ';' separates several authors in Office and PDF properties; ',' may be "Last, First".
            out += [a.strip() for a in v.split(";") if a.strip()]
        elif isinstance(v, list):
            out += [str(a) for a in v if a]
    return list(dict.fromkeys(out))


def _xml(zf: zipfile.ZipFile, name: str) -> ElementTree.Element | None:
    try:
        return ElementTree.fromstring(zf.read(name)[:5_000_000])
    except (KeyError, ElementTree.ParseError):
        return None


def _text(root: ElementTree.Element | None, path: str) -> str | None:
    if root is None:
        return None
    node = root.find(path, _NS)
    return _clean(node.text) if node is not None and node.text else None


def _texts(root: ElementTree.Element | None, path: str) -> list[str]:
    if root is None:
        return []
    return [t for n in root.findall(path, _NS) if (t := _clean(n.text))]


def pdf_properties(path: Path) -> dict[str, Any]:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    if reader.is_encrypted:
        reader.decrypt("")
    info = reader.metadata or {}

    def date(getter: str) -> str | None:
        try:
            return _clean(getattr(info, getter))
        except Exception:  # noqa: BLE001 - malformed PDF date strings are common
            return None

    return {
        "title": _clean(info.get("/Title")),
        "authors": _authors(info.get("/Author")),
        "created": date("creation_date"),
        "modified": date("modification_date"),
        "pages": len(reader.pages),
    }


def ooxml_properties(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        core = _xml(zf, "docProps/core.xml")
        app = _xml(zf, "docProps/app.xml")
    pages = _text(app, "ep:Pages") or _text(app, "ep:Slides")
    return {
        "title": _text(core, "dc:title"),
        "authors": _authors(_text(core, "dc:creator")),
        "created": _text(core, "dcterms:created"),
        "modified": _text(core, "dcterms:modified"),
        "pages": int(pages) if pages and pages.isdigit() else None,
    }


def odf_properties(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        meta = _xml(zf, "meta.xml")
    stats = meta.find("office:meta/meta:document-statistic", _NS) if meta is not None else None
    pages = stats.get(f"{{{_NS['meta']}}}page-count") if stats is not None else None
    return {
        "title": _text(meta, "office:meta/dc:title"),
        "authors": _authors(_text(meta, "office:meta/meta:initial-creator"), _text(meta, "office:meta/dc:creator")),
        "created": _text(meta, "office:meta/meta:creation-date"),
        "modified": _text(meta, "office:meta/dc:date"),
        "pages": int(pages) if pages and pages.isdigit() else None,
    }


def epub_properties(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        container = _xml(zf, "META-INF/container.xml")
        rootfile = container.find(".//container:rootfile", _NS) if container is not None else None
        opf = _xml(zf, rootfile.get("full-path", "")) if rootfile is not None else None
    dates = _texts(opf, "opf:metadata/dc:date")
    modified = next(
        (_clean(n.text) for n in (opf.findall("opf:metadata/opf:meta", _NS) if opf is not None else [])
         if n.get("property") == "dcterms:modified"),
        None,
    )
    return {
        "title": _text(opf, "opf:metadata/dc:title"),
        "authors": _authors(_texts(opf, "opf:metadata/dc:creator")),
        "created": dates[0] if dates else None,
        "modified": modified,
    }


def ole_properties(path: Path) -> dict[str, Any]:
    import olefile

    with olefile.OleFileIO(str(path)) as ole:
        m = ole.get_metadata()
    return {
        "title": _clean(m.title),
        "authors": _authors(m.author),
        "created": _clean(m.create_time),
        "modified": _clean(m.last_saved_time),
        "pages": m.num_pages or None,
    }


_READERS = {
    "pdf": pdf_properties,
    "docx": ooxml_properties, "pptx": ooxml_properties, "xlsx": ooxml_properties,
    "odt": odf_properties,
    "epub": epub_properties,
    "doc": ole_properties, "ppt": ole_properties, "xls": ole_properties,
}


def file_properties(path: Path, kind: str) -> dict[str, Any]:
    reader = _READERS.get(kind)
    if reader is None:
        return {}
    try:
        return reader(path)
    except Exception:  # noqa: BLE001 - properties are optional; the text is what counts
        return {}


def email_headers(elements: Iterable[Any]) -> dict[str, Any] | None:
    """unstructured puts the parsed headers of .eml and .msg files on every element."""
    for el in elements:
        md = el.metadata
        if getattr(md, "sent_from", None) or getattr(md, "subject", None):
            return {
                "from": list(md.sent_from or []),
                "to": list(md.sent_to or []),
                "cc": list(getattr(md, "cc_recipient", None) or []),
                "subject": md.subject,
                "date": md.last_modified,
                "message_id": getattr(md, "email_message_id", None),
            }
    return None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the main language, or None for too little or too ambiguous text.

    py3langid (a naive Bayes model over byte n-grams, shipped in the package): deterministic
    and thread-safe, about ten times faster than langdetect, which sampled at random (so it
    had to be seeded under a global lock that serialized every worker thread)."""
    sample = " ".join(text[:LANGUAGE_SAMPLE_CHARS].split())
    if sum(c.isalpha() for c in sample) < 20:
        return None
    language, probability = _language_identifier().classify(sample)
    return str(language) if probability >= MIN_LANGUAGE_PROBABILITY else None


@functools.cache
def _language_identifier() -> Any:
    # Loaded once per process on first use (~0.2 s), never at import.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)


def document_metadata(
    path: Path, kind: str, *, elements: list[Any], source_name: str, sha256: str,
    mime_type: str, pages: int | None,
) -> dict[str, Any]:
    text = "\n".join(e.text or "" for e in elements)
    props = file_properties(path, kind)
    data: dict[str, Any] = {
        "title": props.get("title"),
        "authors": props.get("authors") or [],
        "created": props.get("created"),
        "modified": props.get("modified"),
        "pages": pages or props.get("pages"),
        "language": detect_language(text),
        "words": len(text.split()),
        "mime_type": mime_type,
        "sha256": sha256,
        "source_name": source_name,
    }
    headers = email_headers(elements) if kind in ("eml", "msg") else None
    if headers is not None:
        data["email"] = headers
        data["title"] = data["title"] or headers["subject"]
        data["authors"] = data["authors"] or headers["from"]
        data["created"] = data["created"] or headers["date"]
    return data
