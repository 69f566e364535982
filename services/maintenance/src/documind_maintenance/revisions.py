"""The correction outbox's re-send (run by the watchdog): a person's correction or rejection
commits with ``chunks.revision_pending_at`` set, and its ``EmbedChunks``/``IndexChunks``
revision messages are sent after the commit. A process that died in between (or a lost
message) leaves the row pending; past ``DOCUMIND_REVISION_RESEND_AFTER_S`` its revision is sent
again: ``EmbedChunks`` for a corrected chunk still without its vector (its embed step then
sends ``IndexChunks``), ``IndexChunks`` otherwise. The search service clears the mark when it
indexed the revision. Sending twice is harmless: both steps run behind
``StatusStore.revision_guard`` and re-embed only a chunk without a current vector. The mark's
time is moved on when re-sent, so a backlog is not flooded with one copy per run."""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

from sqlalchemy import select

from documind.contracts import Contract, EmbedChunks, IndexChunks
from documind.db.engine import SessionFactory, transaction
from documind.db.models import Chunk, Document, DocumentStatus, utcnow
from documind.logging import get_logger

BATCH = 500  # rows per run: a run stays short; the rest waits for the next one


def resend_revisions(sessions: SessionFactory, send: Callable[[Contract], object], grace_s: float) -> list[str]:
    """Re-send the revisions pending longer than ``grace_s``; returns the chunk ids."""
    cutoff = utcnow() - timedelta(seconds=grace_s)
    sent: list[str] = []
    with transaction(sessions) as s:
        rows = s.execute(
            select(Chunk, Document)
            .join(Document, Document.id == Chunk.document_id)
            .where(Chunk.revision_pending_at.is_not(None), Chunk.revision_pending_at < cutoff)
            .order_by(Chunk.revision_pending_at).limit(BATCH)
            .with_for_update(of=Chunk, skip_locked=True)
        ).all()
        now = utcnow()
        for chunk, doc in rows:
            if doc.status is not DocumentStatus.COMPLETED or doc.generation != chunk.generation:
                chunk.revision_pending_at = None  # re-processed or deleted: the revision is moot
                continue
            common = dict(document_id=doc.id, generation=doc.generation, start=chunk.idx, end=chunk.idx + 1,
                          lane=doc.lane, tenant=doc.tenant, revision=True)
            needs_vector = chunk.rejected_at is None and chunk.embedding is None
            send(EmbedChunks(**common) if needs_vector else IndexChunks(**common))
            chunk.revision_pending_at = now
            sent.append(chunk.id)
    if sent:
        get_logger("documind.watchdog").warning("pending revisions re-sent", chunks=len(sent))
    return sent
