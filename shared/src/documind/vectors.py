"""Qdrant access: one constructor for local mode (embedded, on-disk folder) and server mode
(URL), so every caller runs the same code against either."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

# Fixed namespace: ids must be identical across processes, hosts and releases.
POINT_NAMESPACE = uuid.UUID("6f1d2c1e-4a0b-5c7e-9d3f-0b6a3e8c2d41")

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from documind.settings import Settings


def build_qdrant_client(settings: "Settings") -> "QdrantClient":
    from qdrant_client import QdrantClient

    if settings.qdrant_url:
        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return QdrantClient(url=settings.qdrant_url.get_secret_value(), api_key=api_key, timeout=30)
    path = settings.effective_qdrant_path
    path.mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=str(path))


def point_id(document_id: str, chunk_index: int, model: str, *, generation: int) -> str:
    """Deterministic point id (docs/design.md rule 3): a re-delivery overwrites its own points. The
    generation is part of it, so a fenced older generation writing late can never overwrite
    the current generation's points (issue 10 item 8); older generations' points are removed
    when the new one completes. Keyword-only: two int arguments side by side invite a swap."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{document_id}:{generation}:{chunk_index}:{model}"))


def legacy_point_id(document_id: str, chunk_index: int, model: str) -> str:
    """The id releases before generation-keyed ids wrote (tests and diagnostics of old
    collections: those points are still served, and replaced as described in point_id)."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{document_id}:{chunk_index}:{model}"))


def chunk_id(document_id: str, chunk_index: int) -> str:
    return str(uuid.uuid5(POINT_NAMESPACE, f"{document_id}:{chunk_index}"))

