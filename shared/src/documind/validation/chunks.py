"""The chunk behind a task."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from documind.db.models import Chunk, ValidationTask


def task_chunk(s: Session, task: ValidationTask, *, lock: bool = False) -> Chunk | None:
    q = select(Chunk).where(
        Chunk.document_id == task.document_id, Chunk.generation == task.generation, Chunk.idx == task.chunk_idx
    )
    return s.scalar(q.with_for_update() if lock else q)


def chunk_text(s: Session, task: ValidationTask) -> str | None:
    chunk = task_chunk(s, task)
    return chunk.text if chunk is not None else None
