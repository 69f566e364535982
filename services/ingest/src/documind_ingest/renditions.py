"""Build and store a document's renditions (elements JSON, Markdown, plain text) from the
elements unstructured extracted; keys come from ``documind.renditions``."""

from __future__ import annotations

import json
from typing import Any

from documind.renditions import FORMATS, rendition_key
from documind.storage import FileStorage


class RenditionBuilder:
    """Renditions built batch by batch (a streamed DOCX hands its elements over in batches):
    only the rendered text is kept, as the chunk texts are, never the element objects."""

    def __init__(self) -> None:
        self._dicts: list[dict[str, Any]] = []
        self._md: list[str] = []
        self._txt: list[str] = []

    def add(self, elements: list[Any]) -> None:
        from unstructured.staging.base import convert_to_dict, elements_to_md, elements_to_text

        if not elements:
            return
        self._dicts.extend(convert_to_dict(elements))
        self._md.append(elements_to_md(elements))
        self._txt.append(elements_to_text(elements))

    def build(self) -> dict[str, bytes]:
        return {
            "json": json.dumps(self._dicts, ensure_ascii=False, indent=2).encode("utf-8"),
            "md": "\n\n".join(self._md).encode("utf-8"),
            "txt": "\n\n".join(self._txt).encode("utf-8"),
        }


def render(elements: list[Any]) -> dict[str, bytes]:
    builder = RenditionBuilder()
    builder.add(elements)
    return builder.build()


def render_chunks(chunks: list[Any]) -> dict[str, bytes]:
    """Renditions of a document extracted in page ranges (PDF): each range's elements live
    in another message, so they are built from the chunks, in order, with their pages and
    element types."""
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
