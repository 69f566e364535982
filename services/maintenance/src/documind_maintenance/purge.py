"""Finishing a deletion whose ``DeleteDocument`` was lost: a deleted document's index points
and stored files must go whatever happened to the message (a cancelled one keeps its file:
it can be processed again). The search service confirms the points gone by setting
``documents.purged_at``; until then the watchdog calls this again."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from documind.contracts import DeleteDocument
from documind.db.engine import transaction
from documind.db.models import Document, DocumentStatus
from documind.renditions import delete_renditions
from documind.runtime import Runtime


@dataclass
class Purger:
    runtime: Runtime

    def purge(self, doc_id: str) -> bool:
        """Remove the stored files of a still-deleted document and re-send its points removal.
        False if it is no longer deleted or cancelled (re-ingested meanwhile)."""
        rt = self.runtime
        with transaction(rt.sessions) as s:
            # Under the row lock: a re-ingest of the same bytes (same storage key) waits for us.
            doc = s.scalar(select(Document).where(Document.id == doc_id).with_for_update())
            if doc is None or doc.status not in (DocumentStatus.DELETED, DocumentStatus.CANCELLED):
                return False
            if doc.status is DocumentStatus.DELETED:
                delete_renditions(doc.metadata_, rt.storage)
                rt.storage.delete(doc.storage_key)
            tenant = doc.tenant
        rt.bus.send(DeleteDocument(document_id=doc_id, tenant=tenant))
        return True
