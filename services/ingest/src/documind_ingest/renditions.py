"""Build and store a document's renditions (elements JSON, Markdown, plain text) from the
elements unstructured extracted; keys come from ``documind.renditions``."""

from __future__ import annotations

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


def store_renditions(
    storage: FileStorage, elements: list[Any], *, tenant: str, document_id: str, generation: int,
    searchable_pdf: bytes | None = None,
) -> dict[str, str]:
    """Write every rendition; returns format -> key to record on the document."""
    keys: dict[str, str] = {}
    made = render(elements)
    if searchable_pdf:
        made["pdf"] = searchable_pdf
    for fmt, data in made.items():
        assert fmt in FORMATS
        key = rendition_key(tenant, document_id, generation, fmt)
        storage.put_bytes(key, data)
        keys[fmt] = key
    return keys
