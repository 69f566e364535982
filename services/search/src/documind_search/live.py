"""Which documents the database vouches for: completed, at which generation. A hit whose
point carries another generation (or whose document is not completed) must not be shown."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import select

from documind.db.models import Document, DocumentStatus


def live_generations(sessions, doc_ids: Iterable[object]) -> dict[str, int]:  # noqa: ANN001
    ids = sorted({d for d in doc_ids if isinstance(d, str)})
    if not ids:
        return {}
    with sessions() as s:
        rows = s.execute(
            select(Document.id, Document.generation).where(
                Document.id.in_(ids), Document.status == DocumentStatus.COMPLETED
            )
        )
        return {doc_id: gen for doc_id, gen in rows}
