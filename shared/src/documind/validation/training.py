"""The supervised classifier trained from what people confirmed or corrected.

The examples are ``chunk_validations`` rows with labels (approved or corrected, never
rejected), each with its chunk's current text, and the decisions detached from chunks that
are gone (``detached_validations``: a re-processed document's chunk whose text changed, kept
with the text it judged; ``documind.validation.carry``) and not carried onto a new chunk
(that one counts as the new chunk's row), while their document is not deleted or
cancelled: deleting a chunk never loses its example. Only labels in the tenant's taxonomy count (a
validator may name others; those stay on the chunk but cannot be learnt). Training goes
through ``documind.label_model.train_from_pairs``, the same entry point as
``documind labels train FILE``.

Automatic retraining: after a decision that left labels, :func:`trigger` sends
``TrainClassifier`` when some label has ``DOCUMIND_CLASSIFIER_MIN_VALIDATED`` validated
examples and the tenant has at least that many more validated examples than its classifier
was last trained from (the watermark, ``classifier_training_marks``). The embed service's
:func:`train_validated` trains only when the message's count is above the watermark and then
raises it, so a redelivered trigger trains nothing twice."""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable

from sqlalchemy import select

from documind.contracts import Contract, TrainClassifier
from documind.db.engine import SessionFactory, transaction
from documind.db.models import (
    Chunk, ChunkValidation, ClassifierTrainingMark, DetachedValidation, Document, DocumentStatus, utcnow,
)
from documind.taxonomy import TaxonomyError, list_labels


def _query(tenant: str, *columns):  # noqa: ANN001, ANN202
    return (
        select(*columns)
        .join(Chunk, Chunk.id == ChunkValidation.chunk_id)
        .where(ChunkValidation.tenant == tenant, ChunkValidation.verdict != "reject",
               ChunkValidation.generation == Chunk.generation,
               ChunkValidation.labels.is_not(None), Chunk.rejected_at.is_(None))
        .order_by(ChunkValidation.document_id, ChunkValidation.idx)
    )


def _detached(tenant: str, *columns):  # noqa: ANN001, ANN202
    return (
        select(*columns)
        .join(Document, Document.id == DetachedValidation.document_id)
        .where(DetachedValidation.tenant == tenant, DetachedValidation.verdict != "reject",
               DetachedValidation.carried_to.is_(None), DetachedValidation.labels.is_not(None),
               Document.status.not_in((DocumentStatus.DELETED, DocumentStatus.CANCELLED)))
        .order_by(DetachedValidation.document_id, DetachedValidation.idx, DetachedValidation.id)
    )


def _known(labels: list | None, known: set[str] | None) -> list[str]:
    return [lb for lb in (labels or []) if known is None or lb in known]


def validated_examples(sessions: SessionFactory, tenant: str, known: set[str] | None = None) -> list[tuple[str, list[str]]]:
    """(text, labels) per validated chunk of the tenant, labels limited to ``known``."""
    with sessions() as s:
        rows = s.execute(_query(tenant, Chunk.text, ChunkValidation.labels)).all()
        rows += s.execute(_detached(tenant, DetachedValidation.text, DetachedValidation.labels)).all()
    return [(text, kept) for text, labels in rows if (kept := _known(labels, known))]


def validated_label_sets(sessions: SessionFactory, tenant: str, known: set[str] | None = None) -> list[list[str]]:
    """The labels of :func:`validated_examples` without the texts (the trigger's count)."""
    with sessions() as s:
        rows = list(s.scalars(_query(tenant, ChunkValidation.labels)))
        rows += s.scalars(_detached(tenant, DetachedValidation.labels)).all()
    return [kept for labels in rows if (kept := _known(labels, known))]


def watermark(sessions: SessionFactory, tenant: str) -> int:
    with sessions() as s:
        mark = s.get(ClassifierTrainingMark, tenant)
        return 0 if mark is None else mark.validated_examples


def trigger(sessions: SessionFactory, send: Callable[[Contract], Any], tenant: str, min_validated: int) -> bool:
    """Send ``TrainClassifier`` if the tenant's validated labels call for a retrain."""
    if min_validated <= 0:
        return False
    known = {lb.name for lb in list_labels(sessions, tenant)}
    if not known:
        return False
    label_sets = validated_label_sets(sessions, tenant, known)
    counts = Counter(lb for labels in label_sets for lb in set(labels))
    if not counts or max(counts.values()) < min_validated:
        return False
    if len(label_sets) - watermark(sessions, tenant) < min_validated:
        return False
    send(TrainClassifier(tenant=tenant, validated_examples=len(label_sets)))
    return True


def train_validated(
    sessions: SessionFactory, encoder: Any, tenant: str, *, min_examples: int, at_least: int | None = None,
) -> dict[str, Any]:
    """Train the tenant's classifier from its validated labels and raise the watermark.
    With ``at_least`` (a trigger's count) nothing is trained when the watermark already
    reached it: that set, or a larger one, was trained from."""
    if at_least is not None and watermark(sessions, tenant) >= at_least:
        return {"tenant": tenant, "trained": False, "reason": f"already trained from {at_least} or more examples"}
    known = [lb.name for lb in list_labels(sessions, tenant)]
    if not known:
        raise TaxonomyError(f"tenant {tenant!r} has no taxonomy: add labels before training")
    examples = validated_examples(sessions, tenant, set(known))
    if not examples:
        raise TaxonomyError(f"tenant {tenant!r} has no validated labels yet (approve or correct tasks first)")
    from documind.label_model import train_from_pairs

    report = train_from_pairs(sessions, encoder, tenant, examples, min_examples=min_examples, known_labels=known,
                              source="validated")
    with transaction(sessions) as s:
        mark = s.get(ClassifierTrainingMark, tenant, with_for_update=True)
        if mark is None:
            s.add(ClassifierTrainingMark(tenant=tenant, validated_examples=len(examples), trained_at=utcnow()))
        else:
            mark.validated_examples = max(mark.validated_examples, len(examples))
            mark.trained_at = utcnow()
    return {"tenant": tenant, "trained": True, "validated_examples": len(examples), **report.as_dict()}
