"""The stuck-document watchdog (DESIGN rule 1): no document may stay in a non-final state
without a live worker.

Suspects are active documents whose running stage's heartbeat went stale, or with no running
stage that nothing touched for a while. A suspect is **stuck** only if the broker holds no
message for it (``documind.pending``): waiting behind a backlog is not being stuck, and a
message a dead worker fetched but never acked is put back on its queue by Dramatiq's own
maintenance (which each run triggers), with our delivery counter failing crash loops. A stuck document is re-driven by re-sending the
work of the stage it is in (every step is idempotent). Attempts are counted by workers when
they begin a stage, never by a re-drive; once a stage has begun ``max_deliveries`` times
without finishing, the document fails with a reason instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from documind.contracts import EmbedChunks, IndexChunks, Lane, ProcessDocument, RunWatchdog
from documind.db.engine import transaction
from documind.db.models import Chunk, Document, Stage, StageName, StageState, utcnow
from documind.locks import JobLock
from documind.logging import get_logger
from documind.pending import DocKey, PendingWork
from documind.runtime import Runtime
from documind.status import ACTIVE_STATUSES, StatusStore


@dataclass
class Watchdog:
    runtime: Runtime
    lock: JobLock
    pending: PendingWork | None = None  # default: the runtime's (chosen by the run mode)

    def run(self, work: RunWatchdog) -> dict:
        # One run at a time: two would both find the same documents stuck and re-drive twice.
        with self.lock.hold("watchdog") as held:
            if not held:
                get_logger("documind.watchdog").info("watchdog run skipped: another run holds the lock")
                return {"redriven": [], "failed": [], "queued": [], "skipped": "another watchdog run is in progress"}
            return self._run(work)

    def _run(self, work: RunWatchdog) -> dict:
        st = self.runtime.settings
        after = timedelta(seconds=st.stale_after_s if work.stale_after_s is None else work.stale_after_s)
        cutoff = utcnow() - after
        status = self.runtime.status
        pending = self.pending or self.runtime.pending
        pending.reclaim()  # a dead worker's messages back on their queues, before we judge
        suspects = {(d, g) for d, g, _stage, _hb in status.stale_stages(after)}
        suspects |= set(status.idle_documents(after))
        stuck = self._not_pending(suspects)
        queued = sorted(d for d, _g in suspects - stuck)
        redriven, failed = [], []
        for doc_id, gen in sorted(stuck):
            outcome = self.redrive(doc_id, gen, cutoff)
            (redriven if outcome == "redriven" else failed if outcome == "failed" else []).append(doc_id)
        metrics = self.runtime.metrics.watchdog_documents
        for outcome, ids in (("redriven", redriven), ("failed", failed), ("queued", queued)):
            if ids:
                metrics.labels(outcome).inc(len(ids))
        if redriven or failed:
            get_logger("documind.watchdog").warning(
                "stuck documents handled", redriven=len(redriven), failed=len(failed), queued=len(queued)
            )
        return {"redriven": redriven, "failed": failed, "queued": queued}

    def _not_pending(self, suspects: set[DocKey]) -> set[DocKey]:
        """Suspects without a message in the broker. A document whose message moves between
        two queues while one scan reads them (a delayed retry falling due) could be missed
        once; a second scan of the few left over confirms (and ``redrive`` re-checks the
        rows under the lock)."""
        pending = self.pending or self.runtime.pending
        left = set(suspects)
        for _ in range(2):
            if not left:
                break
            left -= pending.snapshot().documents
        return left

    def redrive(self, doc_id: str, gen: int, cutoff: datetime) -> str:
        rt = self.runtime
        with transaction(rt.sessions) as s:
            doc = s.scalar(select(Document).where(Document.id == doc_id).with_for_update())
            if doc is None or doc.status not in ACTIVE_STATUSES or doc.generation != gen:
                return "skipped"
            if StatusStore.touched_since(s, doc_id, cutoff):
                return "skipped"  # a worker moved it since we looked: not stuck
            stage_name = doc.stage or StageName.VALIDATE
            stage = s.scalar(select(Stage).where(Stage.document_id == doc_id, Stage.name == stage_name))
            # Begun by workers this many times (StageStep.begin counts); a re-drive of work
            # that never began (a lost message) is no attempt.
            attempts = stage.attempt if stage is not None else 0
            if attempts >= rt.settings.max_deliveries:
                reason = f"stuck in stage {stage_name.value}: no worker finished it after {attempts} attempts"
            else:
                reason = None
                if stage is not None:
                    # Its worker is gone: the next one to begin it counts a new attempt.
                    if stage.state is StageState.RUNNING:
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
