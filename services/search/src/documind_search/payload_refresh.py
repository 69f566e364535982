"""The ``search.refresh_payload`` actor: after a completed document's row changed (its labels,
set by classification), put the re-derived document fields on its existing points.

Only the completed generation's points are touched (a filter on document id and generation):
a re-processing that started meanwhile writes its own points with fresh payloads, and a
deletion drops the work here or, if it raced the update, removes the points afterwards
(setting a payload never creates a point). Redelivery sets the same values again."""

from __future__ import annotations

from dataclasses import dataclass

from documind.contracts import RefreshPayload
from documind.db.models import Document, DocumentStatus
from documind.errors import Fenced
from documind.runtime import Runtime

from documind_search.points import document_payload
from documind_search.vector_index import VectorIndex


@dataclass
class PayloadRefresher:
    runtime: Runtime
    index: VectorIndex

    def refresh(self, work: RefreshPayload) -> dict:
        rt = self.runtime
        with rt.sessions() as s:
            doc = s.get(Document, work.document_id)
            if doc is None or doc.deleted_at is not None or doc.status is not DocumentStatus.COMPLETED:
                raise Fenced(f"document {work.document_id} is not a completed document: payload left as is")
            if doc.generation != work.generation:
                raise Fenced(f"document {work.document_id} generation {work.generation} superseded")
            payload = document_payload(doc)
            tenant = doc.tenant
        self.index.set_document_payload(work.document_id, work.generation, payload)
        rt.versions.bump(tenant)  # cached answers filtered by label are void
        return {"document_id": work.document_id, "labels": payload["labels"]}
