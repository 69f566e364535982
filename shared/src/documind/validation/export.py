"""Training data from decisions (JSON lines): ``labels`` (a chunk's text with the labels
people confirmed or corrected: the classifier's supervised input) and ``pairs`` (a
chunk's text before and after a correction: the fine-tuning job's and OCR-repair's
input). Only decided tasks count; a task decided by several validators exports the
decision, not each opinion."""

from __future__ import annotations

import json
from typing import IO, Iterator

from sqlalchemy import select

from documind.db.engine import SessionFactory
from documind.db.models import Chunk, TaskStatus, ValidationAnswer, ValidationTask, Verdict


def rows(sessions: SessionFactory, kind: str, tenant: str | None = None) -> Iterator[dict]:
    with sessions() as s:
        q = (
            select(ValidationTask, Chunk.text)
            .join(Chunk, (Chunk.document_id == ValidationTask.document_id)
                  & (Chunk.generation == ValidationTask.generation) & (Chunk.idx == ValidationTask.chunk_idx))
            .where(ValidationTask.status == TaskStatus.ANSWERED)
            .order_by(ValidationTask.id)
        )
        if tenant is not None:
            q = q.where(ValidationTask.tenant == tenant)
        for task, text in s.execute(q):
            answers = list(s.scalars(
                select(ValidationAnswer).where(ValidationAnswer.task_id == task.id).order_by(ValidationAnswer.id)
            ))
            base = {"document_id": task.document_id, "chunk_index": task.chunk_idx, "tenant": task.tenant,
                    "outcome": task.outcome.value, "confidence": task.final_confidence}
            if kind == "labels":
                labels = next((a.labels for a in reversed(answers)
                               if a.labels is not None and a.verdict is task.outcome), None)
                if labels is not None and task.outcome is not Verdict.REJECT:
                    yield {**base, "text": text, "labels": labels}
            elif kind == "pairs":
                if task.outcome is Verdict.CORRECT and answers:
                    original = answers[0].original_text
                    if original is not None and original != text:
                        yield {**base, "original": original, "corrected": text}
            else:
                raise ValueError(f"unknown export kind {kind!r}")


def write(sessions: SessionFactory, kind: str, out: IO[str], tenant: str | None = None) -> int:
    n = 0
    for row in rows(sessions, kind, tenant):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n
