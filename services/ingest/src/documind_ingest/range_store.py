"""Page-range results and their assembly into the document's chunk set.

Each range stores its chunks in ``page_range_results`` behind the fence, under the document
row's lock, so range workers landing at the same time are serialised. The one that lands the
last page numbers every range's chunks in page order (``idx`` dense 0..n-1) into ``chunks`` in
the same transaction and removes the range rows: exactly one caller sees ``assembled``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select

from documind.db.engine import SessionFactory, transaction
from documind.db.models import Chunk, Document, PageRangeResult, Stage, StageName, utcnow
from documind.status import ACTIVE_STATUSES, StatusStore
from documind.validation.carry import carry_over, detach
from documind.vectors import chunk_id

from documind_ingest.chunking import ChunkDraft


@dataclass(frozen=True)
class RangeLanding:
    pages_done: int
    total_pages: int
    assembled: int | None  # chunk count when this call assembled the document, else None
    ocr_pages: int = 0
    characters: int = 0
    words: int = 0
    stale: bool = False  # the document was assembled already (a redelivered range)


def clear_ranges(sessions: SessionFactory, document_id: str, generation: int) -> None:
    """Start the document's ranges afresh: drop range rows and chunk rows of earlier
    generations or attempts (a re-driven document that was assembled but never handed on
    must assemble again, or its ranges would all look stale). Fenced once the document is
    past chunking: its chunks then belong to embed and index."""
    with transaction(sessions) as s:
        StatusStore.guard_chunk_set(s, document_id, generation)
        s.execute(delete(PageRangeResult).where(PageRangeResult.document_id == document_id))
        detach(s, document_id, reason=f"chunks cleared for generation {generation}")
        s.execute(delete(Chunk).where(Chunk.document_id == document_id))


def save_range(
    sessions: SessionFactory,
    document_id: str,
    generation: int,
    first_page: int,
    last_page: int,
    total_pages: int,
    drafts: list[ChunkDraft],
    ocr_pages: int,
) -> RangeLanding:
    with transaction(sessions) as s:
        StatusStore.guard(s, document_id, generation, lock=True)
        if _assembled_already(s, document_id, generation):
            return RangeLanding(total_pages, total_pages, None, stale=True)
        rows = PageRangeResult.__table__
        s.execute(delete(rows).where(
            PageRangeResult.document_id == document_id,
            PageRangeResult.generation == generation,
            PageRangeResult.first_page == first_page,
        ))  # a retried range replaces its earlier attempt
        s.add(PageRangeResult(
            document_id=document_id, generation=generation, first_page=first_page,
            last_page=last_page, ocr_pages=ocr_pages, chunks=[asdict(d) for d in drafts],
        ))
        s.flush()
        ranges = s.execute(
            select(PageRangeResult.first_page, PageRangeResult.last_page, PageRangeResult.ocr_pages)
            .where(PageRangeResult.document_id == document_id, PageRangeResult.generation == generation)
        ).all()
        pages_done = sum(last - first + 1 for first, last, _ in ranges)
        ocr_total = sum(o for _, _, o in ranges)
        _progress(s, document_id, pages_done, total_pages)
        if pages_done < total_pages:
            return RangeLanding(pages_done, total_pages, None, ocr_total)
        n, chars, words = _assemble(s, document_id, generation)
        return RangeLanding(pages_done, total_pages, n, ocr_total, chars, words)


def orphaned_hand_off(sessions: SessionFactory, document_id: str, generation: int, fresh_s: float) -> bool | None:
    """For a range message that arrives after its document was assembled (a redelivery: its
    worker died, or a retry: the hand-off failed after the assembling commit): None if the
    document is not assembled at this generation (extract the range as usual); True if it is,
    still waits in EXTRACT/CHUNK and no heartbeat of either stage is younger than ``fresh_s``,
    i.e. the worker that assembled it is gone before handing it on; else False (handed on,
    or being handed on by a live worker)."""
    with sessions() as s:
        if not _assembled_already(s, document_id, generation):
            return None
        doc = s.get(Document, document_id)
        if doc is None or doc.generation != generation or doc.status not in ACTIVE_STATUSES:
            return False
        if doc.stage not in (StageName.EXTRACT, StageName.CHUNK):
            return False
        beats = s.scalars(select(Stage.heartbeat_at).where(
            Stage.document_id == document_id, Stage.name.in_([StageName.EXTRACT, StageName.CHUNK])
        )).all()
    cutoff = utcnow() - timedelta(seconds=fresh_s)
    return not any(b is not None and b >= cutoff for b in beats)


def _assembled_already(s, document_id: str, generation: int) -> bool:  # noqa: ANN001
    query = select(Chunk.id).where(Chunk.document_id == document_id, Chunk.generation == generation).limit(1)
    return s.scalar(query) is not None


def _progress(s, document_id: str, done: int, total: int) -> None:  # noqa: ANN001
    stage = s.scalar(select(Stage).where(Stage.document_id == document_id, Stage.name == StageName.EXTRACT))
    if stage is not None:
        stage.units_done, stage.units_total = done, total


def _assemble(s, document_id: str, generation: int) -> tuple[int, int, int]:  # noqa: ANN001
    results = s.scalars(
        select(PageRangeResult)
        .where(PageRangeResult.document_id == document_id, PageRangeResult.generation == generation)
        .order_by(PageRangeResult.first_page)
    ).all()
    detach(s, document_id, reason=f"chunks replaced by generation {generation}")
    s.execute(delete(Chunk).where(Chunk.document_id == document_id))
    chunks: list[Chunk] = []
    idx = chars = words = 0
    for result in results:
        for d in result.chunks:
            chars += len(d["text"])
            words += len(d["text"].split())
            chunks.append(Chunk(
                id=chunk_id(document_id, idx), document_id=document_id, idx=idx, generation=generation,
                text=d["text"], token_count=d["token_count"], page_start=d["page_start"],
                page_end=d["page_end"], element_types=d["element_types"],
            ))
            idx += 1
    s.add_all(chunks)
    s.flush()
    carry_over(s, document_id, s.get(Document, document_id).tenant, generation, chunks)
    s.execute(delete(PageRangeResult).where(PageRangeResult.document_id == document_id))
    return idx, chars, words


def count_ranges(sessions: SessionFactory, document_id: str) -> int:
    with sessions() as s:
        return int(s.scalar(select(func.count()).where(PageRangeResult.document_id == document_id)) or 0)
