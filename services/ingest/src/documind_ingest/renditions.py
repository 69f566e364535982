"""Build and store a document's renditions (elements JSON, Markdown, plain text) from the
elements unstructured extracted; keys come from ``documind.renditions``."""

from __future__ import annotations

import json
from typing import Any

from documind.renditions import FORMATS, rendition_key
from documind.storage import FileStorage


def render(elements: list[Any]) -> dict[str, bytes]:
    from unstructured.staging.base import elements_to_json, elements_to_md, elements_to_text

    return {
        "json": (elements_to_json(elements, indent=2) or "[]").encode("utf-8"),
        "md": elements_to_md(elements).encode("utf-8"),
        "txt": elements_to_text(elements).encode("utf-8"),
    }


def render_chunks(chunks: list[Any]) -> dict[str, bytes]:
    """Renditions of a document extracted in page ranges or streamed (PDF, DOCX): its
    elements are never all in memory at once, so they are built from its chunks, in order,
    with their pages and element types."""
    items = [
        {"text": c.text, "page_start": c.page_start, "page_end": c.page_end,
         "element_types": list(c.element_types or [])}
        for c in chunks
    ]
    text = "\n\n".join(c.text for c in chunks) + "\n"
    return {
        "json": json.dumps(items, ensure_ascii=False, indent=2).encode("utf-8"),
        "md": text.encode("utf-8"),
        "txt": text.encode("utf-8"),
    }


def store_renditions(
    storage: FileStorage, elements: list[Any] | None = None, *, tenant: str, document_id: str, generation: int,
    searchable_pdf: bytes | None = None, rendered: dict[str, bytes] | None = None,
) -> dict[str, str]:
    """Write every rendition (``rendered``, or made from ``elements``); returns format -> key
    to record on the document."""
    keys: dict[str, str] = {}
    made = dict(rendered) if rendered is not None else render(elements or [])
    if searchable_pdf:
        made["pdf"] = searchable_pdf
    for fmt, data in made.items():
        assert fmt in FORMATS
        key = rendition_key(tenant, document_id, generation, fmt)
        storage.put_bytes(key, data)
        keys[fmt] = key
    return keys
