"""Comparing what the database says the index should hold with what Qdrant holds: pure
functions over small batches, so a check of any size runs in bounded memory and the rules are
unit-testable without Qdrant or a database.

Classes of damage:
- missing: a chunk of a completed document (current generation, embedded with the index's
  model) has no point;
- extra: a point whose document does not exist, is deleted, failed or cancelled, or whose id is
  no chunk of the live document (index past the end, another model, an older generation, or an
  id written before ids carried the generation: repair rewrites those under the new id);
- stale: the point exists but its generation, text, tenant or chunk index differ from the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

SAMPLE_SIZE = 10

# Document statuses whose points must not exist. Documents still being processed are left
# alone: their points are in flight and the indexer owns them.
DEAD_STATUSES = frozenset({"failed", "cancelled", "deleted"})


@dataclass(frozen=True)
class ExpectedPoint:
    """What one chunk row says its point must look like."""

    point_id: str
    document_id: str
    chunk_index: int
    generation: int
    tenant: str
    text: str


@dataclass(frozen=True)
class DocumentState:
    status: str
    deleted: bool


@dataclass
class DamageClass:
    count: int = 0
    sample: list[dict[str, Any]] = field(default_factory=list)

    def add(self, item: dict[str, Any]) -> None:
        self.count += 1
        if len(self.sample) < SAMPLE_SIZE:
            self.sample.append(item)


@dataclass
class BatchDiff:
    """One batch's findings, with the ids a repair needs."""

    missing: list[ExpectedPoint] = field(default_factory=list)
    stale: list[tuple[ExpectedPoint, str]] = field(default_factory=list)
    extra: list[tuple[str, str | None, str]] = field(default_factory=list)  # (point id, doc id, reason)


@dataclass
class Report:
    documents_checked: int = 0
    chunks_expected: int = 0
    points_scanned: int = 0
    missing: DamageClass = field(default_factory=DamageClass)
    extra: DamageClass = field(default_factory=DamageClass)
    stale: DamageClass = field(default_factory=DamageClass)
    repaired: dict[str, int] = field(default_factory=lambda: {"upserted": 0, "deleted": 0})

    @property
    def clean(self) -> bool:
        return not (self.missing.count or self.extra.count or self.stale.count)

    def record(self, diff: BatchDiff) -> None:
        for exp in diff.missing:
            self.missing.add({"point_id": exp.point_id, "document_id": exp.document_id, "chunk_index": exp.chunk_index})
        for exp, why in diff.stale:
            self.stale.add(
                {"point_id": exp.point_id, "document_id": exp.document_id, "chunk_index": exp.chunk_index, "reason": why}
            )
        for pid, doc_id, why in diff.extra:
            self.extra.add({"point_id": pid, "document_id": doc_id, "reason": why})

    def as_dict(self) -> dict[str, Any]:
        return {
            "clean": self.clean,
            "documents_checked": self.documents_checked,
            "chunks_expected": self.chunks_expected,
            "points_scanned": self.points_scanned,
            **{
                name: {"count": cls.count, "sample": cls.sample}
                for name, cls in (("missing", self.missing), ("extra", self.extra), ("stale", self.stale))
            },
            "repaired": self.repaired,
        }


def stale_reason(expected: ExpectedPoint, payload: Mapping[str, Any]) -> str | None:
    """Why a point no longer matches its row (None: it matches)."""
    if payload.get("document_id") != expected.document_id:
        return "document_id differs"
    if payload.get("generation") != expected.generation:
        return f"generation {payload.get('generation')} != {expected.generation}"
    if payload.get("chunk_index") != expected.chunk_index:
        return "chunk_index differs"
    if payload.get("tenant") != expected.tenant:
        return "tenant differs"
    if payload.get("text") != expected.text:
        return "text differs"
    return None


def diff_live_documents(
    expected: Iterable[ExpectedPoint], points: Iterable[tuple[str, Mapping[str, Any]]]
) -> BatchDiff:
    """Diff a batch of live (completed) documents: ``expected`` are all their chunk rows,
    ``points`` all points whose payload names one of these documents."""
    want = {e.point_id: e for e in expected}
    seen: set[str] = set()
    diff = BatchDiff()
    for pid, payload in points:
        exp = want.get(pid)
        if exp is None:
            diff.extra.append((pid, payload.get("document_id"), _why_not_a_chunk(payload)))
            continue
        seen.add(pid)
        why = stale_reason(exp, payload)
        if why is not None:
            diff.stale.append((exp, why))
    diff.missing.extend(e for pid, e in want.items() if pid not in seen)
    return diff


def _why_not_a_chunk(payload: Mapping[str, Any]) -> str:
    return (
        f"no chunk row for this point (chunk_index {payload.get('chunk_index')}, generation "
        f"{payload.get('generation')}: past the end, another model or generation, or an id from "
        f"before generation-keyed ids)"
    )


def orphan_reason(document_id: Any, state: DocumentState | None) -> str | None:
    """Why a point must go because of its document alone (None: the document may have points)."""
    if not isinstance(document_id, str) or not document_id:
        return "point has no document_id"
    if state is None:
        return "no such document"
    if state.deleted:
        return "document deleted"
    if state.status in DEAD_STATUSES:
        return f"document {state.status}"
    return None


def diff_orphans(
    points: Iterable[tuple[str, Mapping[str, Any]]], documents: Mapping[str, DocumentState]
) -> BatchDiff:
    """Points of one scroll page whose documents (looked up in ``documents``) may hold none."""
    diff = BatchDiff()
    for pid, payload in points:
        doc_id = payload.get("document_id")
        why = orphan_reason(doc_id, documents.get(doc_id) if isinstance(doc_id, str) else None)
        if why is not None:
            diff.extra.append((pid, doc_id if isinstance(doc_id, str) else None, why))
    return diff
