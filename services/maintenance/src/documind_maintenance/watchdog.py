"""The stuck-document watchdog (DESIGN rule 1): no document may stay in a non-final state
without a live worker. Stages whose heartbeat went stale, and active documents with no
running stage that nothing touched for a while, are re-driven by re-sending the work of the
stage they are in (every step is idempotent); after ``max_deliveries`` re-drives the document
fails with a reason instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from documind.contracts import EmbedChunks, IndexChunks, Lane, ProcessDocument, RunWatchdog
from documind.db.engine import transaction
from documind.db.models import Chunk, Document, Stage, StageName, StageState, utcnow
from documind.logging import get_logger
from documind.runtime import Runtime
from documind.status import ACTIVE_STATUSES


@dataclass
class Watchdog:
    runtime: Runtime

    def run(self, work: RunWatchdog) -> dict:
        st = self.runtime.settings
        after = timedelta(seconds=st.stale_after_s if work.stale_after_s is None else work.stale_after_s)
        status = self.runtime.status
        suspects = {(d, g) for d, g, _stage, _hb in status.stale_stages(after)}
        suspects |= set(status.idle_documents(after))
        redriven, failed = [], []
        for doc_id, gen in sorted(suspects):
            outcome = self.redrive(doc_id, gen)
            (redriven if outcome == "redriven" else failed if outcome == "failed" else []).append(doc_id)
        if suspects:
            get_logger("documind.watchdog").warning("stuck documents handled", redriven=len(redriven), failed=len(failed))
        return {"redriven": redriven, "failed": failed}

    def redrive(self, doc_id: str, gen: int) -> str:
        rt = self.runtime
        with transaction(rt.sessions) as s:
            doc = s.scalar(select(Document).where(Document.id == doc_id).with_for_update())
            if doc is None or doc.status not in ACTIVE_STATUSES or doc.generation != gen:
                return "skipped"
            stage_name = doc.stage or StageName.VALIDATE
            stage = s.scalar(select(Stage).where(Stage.document_id == doc_id, Stage.name == stage_name))
            attempts = stage.attempt if stage is not None else 0
            if attempts >= rt.settings.max_deliveries:
                reason = f"stuck in stage {stage_name.value}: no worker finished it after {attempts} attempts"
            else:
                reason = None
                if stage is not None:
                    stage.attempt += 1
                    stage.state = StageState.PENDING
                    stage.heartbeat_at = utcnow()
                doc.updated_at = utcnow()
            total = doc.chunk_count or 0
            lane = doc.lane
        if reason is not None:
            rt.status.fail(doc_id, reason, generation=gen)
            rt.metrics.documents_finished.labels("failed").inc()
            return "failed"
        # Re-driven work stays on the document's lane.
        for message in self._messages(doc_id, gen, stage_name, total, lane):
            rt.bus.send(message)
        return "redriven"

    def _messages(self, doc_id: str, gen: int, stage: StageName, total: int, lane: Lane) -> list:
        step = self.runtime.settings.embed_chunks_per_message
        if stage in (StageName.VALIDATE, StageName.EXTRACT, StageName.CHUNK) or total == 0:
            return [ProcessDocument(document_id=doc_id, generation=gen, lane=lane)]
        ranges = [(a, min(total, a + step)) for a in range(0, total, step)]
        if stage is StageName.EMBED:
            with self.runtime.sessions() as s:
                todo = set(
                    s.scalars(
                        select(Chunk.idx).where(
                            Chunk.document_id == doc_id, Chunk.generation == gen, Chunk.embedded_at.is_(None)
                        )
                    )
                )
            return [
                EmbedChunks(document_id=doc_id, generation=gen, start=a, end=b, lane=lane)
                for a, b in ranges
                if any(a <= i < b for i in todo)
            ] or [IndexChunks(document_id=doc_id, generation=gen, start=a, end=b, lane=lane) for a, b in ranges]
        return [IndexChunks(document_id=doc_id, generation=gen, start=a, end=b, lane=lane) for a, b in ranges]
