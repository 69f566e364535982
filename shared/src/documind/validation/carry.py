"""People's decisions outlive the chunk rows they were made on.

A document's chunks are replaced when it is re-processed (``--reprocess``, a re-upload after
deletion, a re-driven range assembly) and removed when it is deleted or cancelled; their
``chunk_validations`` rows cascade with them. So that no confirmation is lost:

- :func:`detach` runs in the transaction that deletes the chunks, before the delete: each
  decision is copied with the text it judged and that text's sha256 into
  ``detached_validations``, which goes only with the document row (retention), never with
  a chunk. The text and labels are what the supervised classifier trains from
  (``documind.validation.training``), so deleting a chunk keeps its example.
- :func:`carry_over` runs in the transaction that writes the new chunk set: a new chunk whose
  text has the same hash as a detached decision of the document gets it back as its own
  ``chunk_validations`` row (verdict, labels, who and when, the validated confidence; a
  rejection rejects the new chunk too), one decision per chunk, in index order when a text
  occurs more than once. The embed stage folds the validated confidence into the new chunk's
  enrichment (``writeback.fold_validated``) and the classifier keeps corrected labels
  (``writeback.keep_corrected_labels``), as for a decision made on the chunk itself. Each
  carry-over is audited (``validation_carried``).
- A decision whose text is not in the new chunk set is **not applied**: the person judged a
  text that no longer exists, and its verdict or confidence says nothing about different
  text. It stays detached as history (audited ``validations_detached``), still a valid
  (text, labels) training example; should a later generation bring the same text back, it
  is carried onto it then."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from documind import audit
from documind.db.models import Chunk, ChunkValidation, DetachedValidation, Verdict, utcnow

ACTOR = "system:reprocess"
_COPIED = ("task_id", "verdict", "labels", "labels_corrected", "entities_confirmed", "confidence",
           "confirmed_by", "confirmed_at")


def content_hash(text: str) -> str:
    """What a chunk's text is matched on (chunks store no hash of their own)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def detach(s: Session, document_id: str, reason: str) -> int:
    """Copy the document's current decisions out of the chunk rows' reach (call before
    deleting its chunks, in the same transaction). Returns how many."""
    rows = s.execute(
        select(ChunkValidation, Chunk.text).join(Chunk, Chunk.id == ChunkValidation.chunk_id)
        .where(ChunkValidation.document_id == document_id)
    ).all()
    now = utcnow()
    for v, text in rows:
        s.add(DetachedValidation(
            document_id=document_id, tenant=v.tenant, chunk_id=v.chunk_id, generation=v.generation, idx=v.idx,
            text=text, content_hash=content_hash(text), detached_at=now,
            **{name: getattr(v, name) for name in _COPIED},
        ))
        s.delete(v)  # explicitly: the chunk's delete that follows is a Core statement
    if rows:
        s.flush()
        audit.record(s, actor=ACTOR, entity_type="document", entity_id=document_id, action="validations_detached",
                     after={"validations": len(rows)}, reason=reason)
    return len(rows)


def carry_over(s: Session, document_id: str, tenant: str, generation: int, chunks: Iterable[Chunk]) -> int:
    """Give the new chunks (flushed, this transaction) the detached decisions on their text.
    Returns how many were carried."""
    waiting: dict[str, list[DetachedValidation]] = defaultdict(list)
    for d in s.scalars(
        select(DetachedValidation)
        .where(DetachedValidation.document_id == document_id, DetachedValidation.carried_to.is_(None))
        .order_by(DetachedValidation.idx, DetachedValidation.confirmed_at.desc(), DetachedValidation.id.desc())
    ):
        waiting[d.content_hash].append(d)
    if not waiting:
        return 0
    carried = 0
    for chunk in sorted(chunks, key=lambda c: c.idx):
        queue = waiting.get(content_hash(chunk.text))
        if not queue:
            continue
        d = queue.pop(0)
        s.add(ChunkValidation(chunk_id=chunk.id, document_id=document_id, tenant=tenant, generation=generation,
                              idx=chunk.idx, **{name: getattr(d, name) for name in _COPIED}))
        d.carried_to, d.carried_generation = chunk.id, generation
        if d.verdict == Verdict.REJECT.value:
            chunk.rejected_at = utcnow()  # never searchable, as the rejected chunk was
        audit.record(s, actor=ACTOR, entity_type="chunk", entity_id=chunk.id, action="validation_carried",
                     before={"chunk_id": d.chunk_id, "generation": d.generation, "idx": d.idx},
                     after={"generation": generation, "idx": chunk.idx, "verdict": d.verdict, "labels": d.labels,
                            "confirmed_by": d.confirmed_by, "confidence": d.confidence},
                     reason="the re-processed document has a chunk with the same text")
        carried += 1
    if carried:
        s.flush()
    return carried
