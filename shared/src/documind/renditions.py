"""Renditions: a completed document's elements as JSON, its text as Markdown and plain text,
and for scans/images a searchable PDF, kept in the file store. The ingest service writes them; the CLI reads and deletes them. Their
keys are recorded on the document (``metadata["renditions"]``: format -> key), so readers
never guess paths and an object store can hold them as well as a folder."""

from __future__ import annotations

from typing import Any, Mapping

from documind.storage import FileStorage
from documind.tenants import validate_tenant

# format -> (file name in the store, media type)
FORMATS: dict[str, tuple[str, str]] = {
    "json": ("elements.json", "application/json"),
    "md": ("text.md", "text/markdown"),
    "txt": ("text.txt", "text/plain"),
    "pdf": ("searchable.pdf", "application/pdf"),  # scans and images only (OCRmyPDF)
}


class RenditionMissing(LookupError):
    pass


def rendition_key(tenant: str, document_id: str, generation: int, fmt: str) -> str:
    # The generation is part of the key: a re-process never overwrites what a reader of the
    # previous run may be streaming.
    return f"{validate_tenant(tenant)}/renditions/{document_id}/{generation}/{FORMATS[fmt][0]}"


def recorded_keys(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    found = (metadata or {}).get("renditions") or {}
    return {fmt: key for fmt, key in found.items() if isinstance(key, str)}


def find_rendition(metadata: Mapping[str, Any] | None, fmt: str, storage: FileStorage) -> str:
    """The storage key of one rendition, or RenditionMissing with a reason a person reads."""
    if fmt not in FORMATS:
        raise RenditionMissing(f"unknown rendition format {fmt!r} (known: {', '.join(FORMATS)})")
    keys = recorded_keys(metadata)
    key = keys.get(fmt)
    if key is None:
        have = ", ".join(sorted(keys)) or "none"
        raise RenditionMissing(f"this document has no {fmt} rendition (available: {have})")
    if not storage.exists(key):
        raise RenditionMissing(f"the {fmt} rendition is recorded but missing from the file store ({key})")
    return key


def delete_renditions(metadata: Mapping[str, Any] | None, storage: FileStorage, keep: set[str] = frozenset()) -> int:
    removed = 0
    for key in recorded_keys(metadata).values():
        if key not in keep and storage.exists(key):
            storage.delete(key)
            removed += 1
    return removed
