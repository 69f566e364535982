"""Persisting a document's chunks: the whole set is replaced atomically, behind the fence
(and never once the document is past chunking)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from documind.db.engine import SessionFactory, transaction
from documind.db.models import Chunk
from documind.status import StatusStore
from documind.validation.carry import carry_over, detach
from documind.vectors import chunk_id

from documind_ingest.chunking import ChunkDraft


def replace_chunks(
    sessions: SessionFactory, document_id: str, generation: int, drafts: list[ChunkDraft]
) -> int:
    with transaction(sessions) as s:
        doc = StatusStore.guard_chunk_set(s, document_id, generation)  # never under embed/index's feet
        # People's decisions on the old chunks outlive them (documind.validation.carry).
        detach(s, document_id, reason=f"chunks replaced by generation {generation}")
        s.execute(Chunk.__table__.delete().where(Chunk.document_id == document_id))
        chunks = [
            Chunk(
                id=chunk_id(document_id, i),
                document_id=document_id,
                idx=i,
                generation=generation,
                text=d.text,
                token_count=d.token_count,
                page_start=d.page_start,
                page_end=d.page_end,
                element_types=d.element_types,
            )
            for i, d in enumerate(drafts)
        ]
        s.add_all(chunks)
        s.flush()
        carry_over(s, document_id, doc.tenant, generation, chunks)
    return len(drafts)


def read_chunks(sessions: SessionFactory, document_id: str, generation: int) -> list[Chunk]:
    """A generation's chunks in order, without their vectors."""
    with sessions() as s:
        return list(s.scalars(
            select(Chunk).options(defer(Chunk.embedding))
            .where(Chunk.document_id == document_id, Chunk.generation == generation)
            .order_by(Chunk.idx)
        ))


def count_chunks(s: Session, document_id: str, generation: int) -> int:
    """A generation's chunk rows, counted in the caller's transaction."""
    return int(s.scalar(
        select(func.count()).where(Chunk.document_id == document_id, Chunk.generation == generation)
    ) or 0)
