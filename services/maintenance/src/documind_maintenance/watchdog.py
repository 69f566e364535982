"""The stuck-document watchdog (docs/design.md rule 1): no document may stay in a non-final state
without a live worker.

Suspects are active documents whose running stage's heartbeat went stale, or with no running
stage that nothing touched for a while. A suspect is **stuck** only if the broker holds no
message for it (``documind.pending``): waiting behind a backlog is not being stuck, and a
message a dead worker fetched but never acked is put back on its queue by Dramatiq's own
maintenance (which each run triggers), with our delivery counter failing crash loops. A
stuck document is re-driven by re-sending what its chunk rows say is left to do (every step
is idempotent). Attempts are counted by workers when they begin a stage, never by a
re-drive; once a stage has begun ``max_deliveries`` times without finishing, the document
fails with a reason instead. Deletions whose message was lost are finished (``purge``), and
completed documents whose follow-up (classification, enrichment summary) was lost get it
again (``followup``), and classifiers whose rebuild after a model switch was lost are asked
again (``classifier_retrains``)."""

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

from documind_maintenance.classifier_retrains import ClassifierRetrains
from documind_maintenance.followup import FollowUps
from documind_maintenance.purge import Purger
from documind_maintenance.revisions import resend_revisions


@dataclass
class Watchdog:
    runtime: Runtime
    lock: JobLock
    pending: PendingWork | None = None  # default: the runtime's (chosen by the run mode)

    def __post_init__(self) -> None:
        self.purger = Purger(self.runtime)
        self.followups = FollowUps(self.runtime)
        self.retrains = ClassifierRetrains(self.runtime)

    def run(self, work: RunWatchdog) -> dict:
        # One run at a time: two would both find the same documents stuck and re-drive twice.
        with self.lock.hold("watchdog") as held:
            if not held:
                get_logger("documind.watchdog").info("watchdog run skipped: another run holds the lock")
                return {
                    "redriven": [], "failed": [], "queued": [], "purged": [], "followups": {}, "revisions_resent": [],
                    "classifier_retrains_resent": [],
                    "skipped": "another watchdog run is in progress",
                }
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
        removed = {d for d, _status in status.unpurged(after)}
        stuck, lost_deletions = self._without_messages(suspects, removed)
        queued = sorted(d for d, _g in suspects - stuck) + sorted(removed - lost_deletions)
        redriven, failed, purged = [], [], []
        for doc_id, gen in sorted(stuck):
            outcome = self.redrive(doc_id, gen, cutoff)
            (redriven if outcome == "redriven" else failed if outcome == "failed" else []).append(doc_id)
        for doc_id in sorted(lost_deletions):
            if self.purger.purge(doc_id):
                purged.append(doc_id)
        metrics = self.runtime.metrics.watchdog_documents
        for outcome, ids in (("redriven", redriven), ("failed", failed), ("queued", queued), ("purged", purged)):
            if ids:
                metrics.labels(outcome).inc(len(ids))
        if redriven or failed or purged:
            get_logger("documind.watchdog").warning(
                "stuck documents handled",
                redriven=len(redriven), failed=len(failed), purged=len(purged), queued=len(queued),
            )
        followups = self.followups.run(cutoff, pending)
        out = {"redriven": redriven, "failed": failed, "queued": queued, "purged": purged, "followups": followups}
        # Corrections whose revision messages were lost (documind_maintenance.revisions).
        out["revisions_resent"] = resend_revisions(self.runtime.sessions, self.runtime.bus.send, st.revision_resend_after_s)
        # Supervised classifiers whose rebuild after a model switch was lost.
        out["classifier_retrains_resent"] = self.retrains.run(pending)
        return out

    def _without_messages(self, suspects: set[DocKey], removed: set[str]) -> tuple[set[DocKey], set[str]]:
        """Suspects (document work; deletions) without a message in the broker. A message
        that moves between two queues while one scan reads them (a delayed retry falling due)
        could be missed once; a second scan of the few left over confirms (and ``redrive``
        re-checks the rows under the lock)."""
        pending = self.pending or self.runtime.pending
        left, deletions = set(suspects), set(removed)
        for _ in range(2):
            if not left and not deletions:
                break
            snap = pending.snapshot()
            left -= snap.documents
            deletions -= snap.deletions
        return left, deletions

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
            lane, tenant = doc.lane, doc.tenant
        if reason is not None:
            rt.status.fail(doc_id, reason, generation=gen)
            rt.metrics.documents_finished.labels("failed").inc()
            return "failed"
        # Re-driven work stays on the document's lane.
        for message in self._messages(doc_id, gen, stage_name, total, lane, tenant):
            rt.bus.send(message)
        return "redriven"

    def _messages(self, doc_id: str, gen: int, stage: StageName, total: int, lane: Lane, tenant: str) -> list:
        """What is left to do, read from the chunk rows rather than the stage name: with
        several ranges, one range may be indexed (the stage says INDEX) while another's
        embed message was lost."""
        step = self.runtime.settings.embed_chunks_per_message
        # The document's tenant travels with every message, as in the first run (tasks.declare).
        work = {"document_id": doc_id, "generation": gen, "lane": lane, "tenant": tenant}
        if stage in (StageName.VALIDATE, StageName.EXTRACT, StageName.CHUNK) or total == 0:
            return [ProcessDocument(**work)]
        with self.runtime.sessions() as s:
            rows = s.execute(
                select(Chunk.idx, Chunk.embedded_at.is_not(None), Chunk.indexed_at.is_not(None)).where(
                    Chunk.document_id == doc_id, Chunk.generation == gen
                )
            ).all()
        not_embedded = {idx for idx, embedded, _ in rows if not embedded}
        not_indexed = {idx for idx, embedded, indexed in rows if embedded and not indexed}
        messages: list = []
        for a, b in ((a, min(total, a + step)) for a in range(0, total, step)):
            if any(a <= i < b for i in not_embedded):
                messages.append(EmbedChunks(**work, start=a, end=b))
            elif any(a <= i < b for i in not_indexed):
                messages.append(IndexChunks(**work, start=a, end=b))
        if not messages:
            # Every chunk indexed, the completion lost: indexing the last range again completes.
            a = (total - 1) // step * step
            messages.append(IndexChunks(**work, start=a, end=total))
        return messages
