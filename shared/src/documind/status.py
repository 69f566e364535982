"""Document and stage status in the database: the one place that moves a document through
its lifecycle. Every write step goes through :meth:`StatusStore.guard`, the deletion fence
(docs/design.md rule 4): deleted, cancelled, finished or superseded work raises :class:`Fenced`."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterator, Sequence

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from documind import audit
from documind.contracts import Lane
from documind.db.engine import SessionFactory, transaction
from documind.db.models import (
    FINAL_STATUSES,
    Chunk,
    ChunkEnrichment,
    ChunkEntity,
    Document,
    DocumentEnrichment,
    DocumentStatus,
    PageRangeResult,
    Stage,
    StageName,
    StageState,
    TaskStatus,
    ValidationTask,
    utcnow,
)
from documind.errors import Fenced
from documind.index_versions import IndexVersions, MemoryIndexVersions
from documind.validation.carry import detach

ACTIVE_STATUSES = (DocumentStatus.RECEIVED, DocumentStatus.PROCESSING)
# Removed by a user: their index points (and, once deleted, their file) must go.
REMOVED_STATUSES = (DocumentStatus.DELETED, DocumentStatus.CANCELLED)


@dataclass(frozen=True)
class Upload:
    tenant: str
    source_name: str
    sha256: str
    size_bytes: int
    storage_key: str
    lane: Lane = Lane.INTERACTIVE


@dataclass(frozen=True)
class Registered:
    document_id: str
    generation: int
    created: bool  # False: the same bytes were already known for this tenant
    needs_processing: bool
    lane: Lane = Lane.INTERACTIVE  # the lane its messages go on


def current_actor() -> str:
    """Who makes a change: the actor whose message this thread handles, else the process
    (the CLI, a scheduler). Read from Dramatiq's CurrentMessage middleware when installed."""
    from dramatiq.middleware import CurrentMessage

    message = CurrentMessage.get_current_message()
    return message.actor_name if message is not None else "cli"


def doc_state(doc: Document) -> dict:
    return {
        "status": doc.status.value if doc.status else None,
        "stage": doc.stage.value if doc.stage else None,
        "generation": doc.generation,
    }


def audit_document(s: Session, doc: Document, action: str, before: dict | None, reason: str | None = None) -> None:
    """One audit entry for a document transition, in the transaction that made it."""
    audit.record(
        s, actor=current_actor(), entity_type="document", entity_id=doc.id, action=action,
        before=before, after=doc_state(doc), reason=reason,
    )


def _stage_row(s: Session, document_id: str, name: StageName) -> Stage:
    stage = s.scalar(select(Stage).where(Stage.document_id == document_id, Stage.name == name))
    if stage is None:
        stage = Stage(document_id=document_id, name=name, state=StageState.PENDING, attempt=0, units_done=0)
        s.add(stage)
        s.flush()
    return stage


class StageStep:
    """Stage changes of one document inside one guarded transaction (``StatusStore.step``)."""

    def __init__(self, session: Session, document: Document) -> None:
        self.session = session
        self.document = document

    def begin(self, name: StageName, units_total: int | None = None) -> None:
        now = utcnow()
        if self.document.status != DocumentStatus.PROCESSING or self.document.stage != name:
            before = doc_state(self.document)
            self.document.status = DocumentStatus.PROCESSING
            self.document.stage = name
            audit_document(self.session, self.document, f"stage:{name.value}", before)
        self.document.status = DocumentStatus.PROCESSING
        self.document.stage = name
        stage = _stage_row(self.session, self.document.id, name)
        if stage.state != StageState.RUNNING:
            stage.attempt += 1
        stage.state = StageState.RUNNING
        stage.started_at = stage.started_at or now
        stage.heartbeat_at = now
        stage.error = None
        if units_total is not None:
            stage.units_total = units_total

    def finish(self, name: StageName) -> None:
        now = utcnow()
        stage = _stage_row(self.session, self.document.id, name)
        stage.state = StageState.DONE
        stage.finished_at = now
        stage.heartbeat_at = now
        if stage.units_total is not None:
            stage.units_done = stage.units_total

    def hand_off(self, name: StageName, units_total: int) -> None:
        """Create the next stage as pending with its amount of work (e.g. chunks to embed)."""
        if self.document.stage != name:
            before = doc_state(self.document)
            self.document.stage = name
            audit_document(self.session, self.document, f"hand_off:{name.value}", before)
        stage = _stage_row(self.session, self.document.id, name)
        stage.state = StageState.PENDING
        stage.units_total = units_total
        stage.units_done = 0
        stage.started_at = stage.finished_at = None
        stage.heartbeat_at = utcnow()

    def progress(self, name: StageName, done: int, total: int) -> None:
        stage = _stage_row(self.session, self.document.id, name)
        stage.units_done = done
        stage.units_total = total
        stage.heartbeat_at = utcnow()

    def set(self, **values: object) -> None:
        for key, value in values.items():
            setattr(self.document, key, value)


class StatusStore:
    def __init__(
        self, sessions: SessionFactory, versions: IndexVersions | None = None, max_work_s: float | None = None
    ) -> None:
        self.sessions = sessions
        # Longest one piece of heartbeat-covered work may run (DOCUMIND_MAX_STAGE_S): None = unbounded.
        self.max_work_s = max_work_s
        # Called when the work budget fails a document (the runtime counts it in its metrics).
        self.on_failed: Callable[[], None] | None = None
        # Bumped after each commit that can change what a tenant's search returns (a bump
        # before the commit would let a query cache the old state under the new version).
        self.versions: IndexVersions = versions if versions is not None else MemoryIndexVersions()

    # ---- uploads -------------------------------------------------------------------------
    def register(self, upload: Upload, *, reprocess: bool = False) -> Registered:
        """Create the document, or return the existing one for the same tenant + bytes.

        Same bytes are one document (idempotent); ``reprocess`` or a previously deleted or
        cancelled document starts a new generation of the same row."""
        for _ in range(3):
            try:
                with transaction(self.sessions) as s:
                    doc = s.scalar(
                        select(Document)
                        .where(Document.tenant == upload.tenant, Document.sha256 == upload.sha256)
                        .with_for_update()
                    )
                    if doc is None:
                        doc = Document(
                            tenant=upload.tenant,
                            source_name=upload.source_name,
                            sha256=upload.sha256,
                            size_bytes=upload.size_bytes,
                            storage_key=upload.storage_key,
                            status=DocumentStatus.RECEIVED,
                            generation=1,
                            metadata_={},
                            lane=upload.lane,
                        )
                        s.add(doc)
                        s.flush()
                        audit_document(s, doc, "register", None, reason=f"upload {upload.source_name}")
                        return Registered(doc.id, doc.generation, True, True, doc.lane)
                    restart = reprocess or doc.status in (
                        DocumentStatus.DELETED,
                        DocumentStatus.CANCELLED,
                    )
                    if restart:
                        before = doc_state(doc)
                        self._restart(s, doc, upload)
                        audit_document(
                            s, doc, "restart", before,
                            reason="reprocess requested" if reprocess else f"re-uploaded after {before['status']}",
                        )
                    registered = Registered(doc.id, doc.generation, False, restart, doc.lane)
            except IntegrityError:
                continue  # a concurrent upload of the same bytes won the insert: read it
            if restart:
                self.versions.bump(upload.tenant)  # a completed generation left the results
            return registered
        raise RuntimeError("could not register upload after concurrent inserts")

    @classmethod
    def _restart(cls, s: Session, doc: Document, upload: Upload) -> None:
        cls.new_generation(s, doc)
        doc.source_name = upload.source_name
        doc.storage_key = upload.storage_key
        doc.lane = upload.lane

    @staticmethod
    def new_generation(s: Session, doc: Document) -> None:
        """Start the document over (the caller holds its row lock and sends ProcessDocument):
        every message of the old generation is fenced off from here on."""
        doc.generation += 1
        doc.status = DocumentStatus.RECEIVED
        doc.stage = None
        doc.error = None
        doc.deleted_at = None
        doc.completed_at = None
        doc.purged_at = None
        doc.validated_at = None
        doc.validated_confidence = None
        doc.enriched_generation = None  # this generation's enrichment summary is still to come
        for stage in list(doc.stages):
            s.delete(stage)
        supersede_tasks(s, doc.id)

    # ---- the fence -----------------------------------------------------------------------
    @staticmethod
    def guard(s: Session, document_id: str, generation: int, *, lock: bool = False) -> Document:
        query = select(Document).where(Document.id == document_id)
        if lock:
            query = query.with_for_update()
        doc = s.scalar(query)
        if doc is None:
            raise Fenced(f"document {document_id} does not exist")
        if doc.generation != generation:
            raise Fenced(f"document {document_id} generation {generation} superseded by {doc.generation}")
        if doc.status not in ACTIVE_STATUSES:
            raise Fenced(f"document {document_id} is {doc.status.value}")
        return doc

    @classmethod
    def guard_chunk_set(cls, s: Session, document_id: str, generation: int) -> Document:
        """The fence for replacing or clearing a document's chunks: :meth:`guard` (locked),
        and ``Fenced`` once this generation's chunks were handed on to embedding. Past that
        point embed and index own the rows: a duplicate ProcessDocument that cleared them
        let the document complete with zero chunks (issue 10 item 2)."""
        doc = cls.guard(s, document_id, generation, lock=True)
        # A restart deletes the stages, so every stage row here belongs to this generation.
        stages = s.execute(select(Stage.name, Stage.state).where(Stage.document_id == document_id)).all()
        if any(
            name in (StageName.EMBED, StageName.INDEX) or (name == StageName.CHUNK and state == StageState.DONE)
            for name, state in stages
        ):
            raise Fenced(f"document {document_id} generation {generation} is past chunking: its chunks are final")
        return doc

    @staticmethod
    def revision_guard(s: Session, document_id: str, generation: int, *, lock: bool = False) -> Document:
        """The fence for revising a searchable document's chunks after a person's decision
        (``revision`` messages): the document must still be ``completed`` in this
        generation. Deleted, cancelled, failed or re-processed raises ``Fenced`` as the
        pipeline's fence does; a delete takes the same row lock, so it waits for a revision
        in progress or fences it off."""
        query = select(Document).where(Document.id == document_id)
        doc = s.scalar(query.with_for_update() if lock else query)
        if doc is None:
            raise Fenced(f"document {document_id} does not exist")
        if doc.generation != generation:
            raise Fenced(f"document {document_id} generation {generation} superseded by {doc.generation}")
        if doc.status is not DocumentStatus.COMPLETED:
            raise Fenced(f"document {document_id} is {doc.status.value}: no revision")
        return doc

    @contextmanager
    def revision(self, document_id: str, generation: int) -> Iterator[Session]:
        """One transaction behind :meth:`revision_guard` (row locked)."""
        with transaction(self.sessions) as s:
            self.revision_guard(s, document_id, generation, lock=True)
            yield s

    def check(self, document_id: str, generation: int) -> None:
        with self.sessions() as s:
            self.guard(s, document_id, generation)

    # ---- stages --------------------------------------------------------------------------
    @contextmanager
    def step(self, document_id: str, generation: int) -> Iterator[StageStep]:
        """One guarded transaction for several stage changes: e.g. finish extraction and
        begin chunking commit together, behind one fence check and one row lock. A small
        document makes a dozen such changes; one commit each was most of ingest's database
        time."""
        with transaction(self.sessions) as s:
            yield StageStep(s, self.guard(s, document_id, generation, lock=True))

    def begin_stage(
        self, document_id: str, generation: int, name: StageName, units_total: int | None = None
    ) -> None:
        with self.step(document_id, generation) as step:
            step.begin(name, units_total)

    def finish_stage(self, document_id: str, generation: int, name: StageName) -> None:
        with self.step(document_id, generation) as step:
            step.finish(name)

    def hand_off(self, document_id: str, generation: int, name: StageName, units_total: int) -> None:
        with self.step(document_id, generation) as step:
            step.hand_off(name, units_total)

    def update_document(self, document_id: str, generation: int, **values: object) -> None:
        with self.step(document_id, generation) as step:
            step.set(**values)

    def set_progress(self, document_id: str, name: StageName, done: int, total: int | None = None) -> None:
        values: dict[str, object] = {"units_done": done, "heartbeat_at": utcnow()}
        if total is not None:
            values["units_total"] = total
        with transaction(self.sessions) as s:
            s.execute(
                update(Stage).where(Stage.document_id == document_id, Stage.name == name).values(**values)
            )

    def beat(self, document_id: str, name: StageName) -> None:
        with transaction(self.sessions) as s:
            s.execute(
                update(Stage)
                .where(Stage.document_id == document_id, Stage.name == name, Stage.state == StageState.RUNNING)
                .values(heartbeat_at=utcnow())
            )

    @contextmanager
    def heartbeat(
        self, document_id: str, name: StageName, interval_s: float, generation: int | None = None
    ) -> Iterator[None]:
        """Keep ``heartbeat_at`` fresh while CPU-bound work runs, so the watchdog can tell a
        live worker from a dead one.

        A fresh heartbeat proves the process lives, not that the work moves: a worker blocked
        in a child process or a C call that its time limit cannot interrupt would beat for
        ever. So the work this block covers has a budget of its own (``max_work_s``, counted
        from entering the block: time waiting in a queue never counts). Past it the document
        of this ``generation`` fails with the reason, and the beating stops; whatever the
        blocked thread writes later is fenced off."""
        stop = threading.Event()
        began = time.monotonic()
        budget = self.max_work_s if generation is not None else None

        def tick() -> None:
            while not stop.wait(interval_s):
                if budget is not None and time.monotonic() - began > budget:
                    reason = f"stage {name.value} still running after {budget:g} s (DOCUMIND_MAX_STAGE_S)"
                    try:
                        if self.fail(document_id, reason, generation=generation) and self.on_failed is not None:
                            self.on_failed()  # counted in documind_documents_finished_total{status="failed"}
                    except Exception:  # noqa: BLE001 - the watchdog sees the stale stage instead
                        pass
                    return
                try:
                    self.beat(document_id, name)
                except Exception:  # noqa: BLE001 - a missed beat is not worth killing the work
                    pass

        thread = threading.Thread(target=tick, name=f"heartbeat-{document_id[:8]}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=interval_s + 1)

    # ---- final states --------------------------------------------------------------------
    def fail(self, document_id: str, reason: str, *, generation: int | None = None) -> bool:
        """Move an active document to ``failed``; True if this call did it."""
        now = utcnow()
        with transaction(self.sessions) as s:
            doc = s.scalar(select(Document).where(Document.id == document_id).with_for_update())
            if doc is None or doc.status in FINAL_STATUSES:
                return False
            if generation is not None and doc.generation != generation:
                return False
            tenant = doc.tenant
            before = doc_state(doc)
            doc.status = DocumentStatus.FAILED
            doc.error = reason
            audit_document(s, doc, "fail", before, reason)
            doc.completed_at = now
            for stage in doc.stages:
                if stage.state in (StageState.RUNNING, StageState.PENDING):
                    stage.state = StageState.FAILED
                    stage.error = reason
                    stage.finished_at = now
        self.versions.bump(tenant)
        return True

    def complete(self, document_id: str, generation: int) -> bool:
        """Move the document to ``completed`` once; True for the caller that did it."""
        now = utcnow()
        with transaction(self.sessions) as s:
            doc = self.guard(s, document_id, generation, lock=True)
            before = doc_state(doc)
            doc.status = DocumentStatus.COMPLETED
            audit_document(s, doc, "complete", before)
            doc.completed_at = now
            for stage in doc.stages:
                if stage.state != StageState.DONE:
                    stage.state = StageState.DONE
                    stage.finished_at = now
            tenant = doc.tenant
        self.versions.bump(tenant)
        return True

    def mark_deleted(self, document_id: str, *, tenant: str | None = None) -> Document | None:
        """Raise the deletion fence; every later write step for this document is dropped.
        With ``tenant``, a document of another tenant is None, like a missing one."""
        with transaction(self.sessions) as s:
            doc = s.scalar(_owned(document_id, tenant).with_for_update())
            if doc is None:
                return None
            before = doc_state(doc)
            doc.status = DocumentStatus.DELETED
            audit_document(s, doc, "delete", before, reason="deleted by a user")
            doc.deleted_at = utcnow()
            doc.purged_at = None  # until the search service confirms its points gone
            drop_enrichment(s, doc)
            detach(s, document_id, reason=f"document {doc.status.value}")  # the decisions outlive the chunks
            s.execute(Chunk.__table__.delete().where(Chunk.document_id == document_id))
            supersede_tasks(s, document_id)
        self.versions.bump(doc.tenant)
        return doc

    def cancel(self, document_id: str, *, tenant: str | None = None) -> tuple[Document | None, bool]:
        """Move an active document to ``cancelled`` (final) and drop the rows its pipeline
        wrote; every later write step of the running work hits the fence. Returns the
        document (None if missing or of another ``tenant``) and whether this call cancelled
        it (False: it was final already)."""
        now = utcnow()
        with transaction(self.sessions) as s:
            doc = s.scalar(_owned(document_id, tenant).with_for_update())
            if doc is None or doc.status in FINAL_STATUSES:
                return doc, False
            before = doc_state(doc)
            doc.status = DocumentStatus.CANCELLED
            audit_document(s, doc, "cancel", before, reason="cancelled by a user")
            doc.completed_at = now
            doc.purged_at = None  # until the search service confirms its points gone
            doc.chunk_count = 0
            for stage in doc.stages:
                if stage.state in (StageState.RUNNING, StageState.PENDING):
                    stage.state = StageState.CANCELLED
                    stage.finished_at = now
            drop_enrichment(s, doc)
            detach(s, document_id, reason=f"document {doc.status.value}")  # the decisions outlive the chunks
            s.execute(Chunk.__table__.delete().where(Chunk.document_id == document_id))
            s.execute(PageRangeResult.__table__.delete().where(PageRangeResult.document_id == document_id))
            supersede_tasks(s, document_id)
            return doc, True

    def mark_purged(self, document_id: str) -> bool:
        """The document's index points are gone (its ``DeleteDocument`` ran): the watchdog
        stops re-sending it. Only while it is still deleted or cancelled (not re-ingested)."""
        with transaction(self.sessions) as s:
            done = s.execute(
                update(Document)
                .where(Document.id == document_id, Document.status.in_(REMOVED_STATUSES))
                .values(purged_at=utcnow())
            )
            return bool(done.rowcount)

    def unpurged(self, older_than: timedelta) -> list[tuple[str, DocumentStatus]]:
        """Deleted or cancelled documents whose points removal was never confirmed, removed
        a while ago: their ``DeleteDocument`` was lost (the watchdog's input)."""
        cutoff = utcnow() - older_than
        removed_at = func.coalesce(Document.deleted_at, Document.completed_at)
        with self.sessions() as s:
            rows = s.execute(
                select(Document.id, Document.status).where(
                    Document.status.in_(REMOVED_STATUSES), Document.purged_at.is_(None), removed_at < cutoff
                )
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]

    # ---- reads ---------------------------------------------------------------------------
    def get(self, document_id: str, *, tenant: str | None = None) -> Document | None:
        """The document, or None when missing or (with ``tenant``) another tenant's."""
        with self.sessions() as s:
            doc = s.get(Document, document_id)
            if doc is not None and tenant is not None and doc.tenant != tenant:
                return None
            if doc is not None:
                _ = list(doc.stages)  # load while the session is open
            return doc

    def belongs_to(self, document_id: str, tenant: str) -> bool:
        """Whether the document exists and is ``tenant``'s (a message's scope check)."""
        with self.sessions() as s:
            return s.scalar(select(Document.tenant).where(Document.id == document_id)) == tenant

    def list(self, tenant: str | None = None, limit: int = 1000) -> list[Document]:
        with self.sessions() as s:
            q = select(Document).order_by(Document.created_at.desc()).limit(limit)
            if tenant:
                q = q.where(Document.tenant == tenant)
            docs = list(s.scalars(q))
            for doc in docs:
                _ = list(doc.stages)
            return docs

    def counts(self) -> dict[str, int]:
        with self.sessions() as s:
            rows = s.execute(select(Document.status, func.count()).group_by(Document.status))
            return {status.value: n for status, n in rows}

    # ---- waiting on many documents (``ingest --wait``) ------------------------------------
    # Ids go to the database in slices, so a large import stays within parameter limits.
    _ID_SLICE = 500

    def counts_for(self, ids: Sequence[str]) -> dict[DocumentStatus, int]:
        """How many of ``ids`` are in each status (one aggregate query per slice)."""
        counts: dict[DocumentStatus, int] = {}
        with self.sessions() as s:
            for part in _slices(ids, self._ID_SLICE):
                rows = s.execute(
                    select(Document.status, func.count()).where(Document.id.in_(part)).group_by(Document.status)
                )
                for status, n in rows:
                    counts[status] = counts.get(status, 0) + n
        return counts

    def finished_among(self, ids: Sequence[str]) -> list[tuple[str, DocumentStatus, str | None]]:
        """``(id, status, error)`` of those of ``ids`` that are final: details only for them."""
        found = []
        with self.sessions() as s:
            for part in _slices(ids, self._ID_SLICE):
                found.extend(
                    tuple(r)
                    for r in s.execute(
                        select(Document.id, Document.status, Document.error).where(
                            Document.id.in_(part), Document.status.in_(FINAL_STATUSES)
                        )
                    )
                )
        return found  # type: ignore[return-value]

    def missing_among(self, ids: Sequence[str]) -> list[str]:
        """Those of ``ids`` with no document row (never registered here)."""
        existing: set[str] = set()
        with self.sessions() as s:
            for part in _slices(ids, self._ID_SLICE):
                existing.update(s.scalars(select(Document.id).where(Document.id.in_(part))))
        return [i for i in ids if i not in existing]

    def stale_stages(self, older_than: timedelta) -> list[tuple[str, int, StageName, datetime | None]]:
        """Running stages of active documents whose heartbeat stopped (the watchdog's input)."""
        cutoff = utcnow() - older_than
        with self.sessions() as s:
            rows = s.execute(
                select(Document.id, Document.generation, Stage.name, Stage.heartbeat_at)
                .join(Stage, Stage.document_id == Document.id)
                .where(
                    Document.status.in_(ACTIVE_STATUSES),
                    Stage.state == StageState.RUNNING,
                    Stage.heartbeat_at < cutoff,
                )
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]

    @staticmethod
    def touched_since(s: Session, document_id: str, cutoff: datetime) -> bool:
        """Whether a worker moved the document (its row, or any stage's heartbeat) at or after
        ``cutoff``: the watchdog's re-check under the row lock, so work that got going between
        its query and its decision is not re-driven."""
        doc = select(Document.id).where(Document.id == document_id, Document.updated_at >= cutoff)
        stage = select(Stage.id).where(Stage.document_id == document_id, Stage.heartbeat_at >= cutoff)
        return bool(s.scalar(select(or_(doc.exists(), stage.exists()))))

    def idle_documents(self, older_than: timedelta) -> list[tuple[str, int]]:
        """Active documents with no running stage and no update for a while: their message
        was lost (e.g. an embedded process stopped) or still waits in a queue; the watchdog
        tells the two apart by asking the broker (``documind.pending``)."""
        cutoff = utcnow() - older_than
        with self.sessions() as s:
            running = select(Stage.document_id).where(Stage.state == StageState.RUNNING)
            rows = s.execute(
                select(Document.id, Document.generation).where(
                    Document.status.in_(ACTIVE_STATUSES),
                    Document.updated_at < cutoff,
                    Document.id.not_in(running),
                )
            )
            return [tuple(r) for r in rows]  # type: ignore[misc]


def drop_enrichment(s: Session, doc: Document) -> None:
    """A removed document's AI results go with the deletion fence, in its transaction: its
    figures (``document_enrichment``), its chunks' entities and enrichment (explicitly, before
    the chunks: SQLite enforces no ON DELETE CASCADE unless asked) and its labels. Waiting for
    the cleanup of deleted rows (days later, ``DOCUMIND_DELETED_DOCUMENT_RETENTION_DAYS``)
    would show a deleted document's old figures meanwhile; late enrichment or classification
    of it is fenced (they require a completed document), so nothing writes them back."""
    for model in (ChunkEntity, ChunkEnrichment, DocumentEnrichment):
        s.execute(model.__table__.delete().where(model.__table__.c.document_id == doc.id))
    meta = doc.metadata_ or {}
    if "labels" in meta or "classification" in meta:
        # A new dict: SQLAlchemy does not see in-place changes of a JSON column.
        doc.metadata_ = {k: v for k, v in meta.items() if k not in ("labels", "classification")}


def supersede_tasks(s: Session, document_id: str) -> None:
    """The document's unanswered validation tasks are moot once it is re-processed,
    deleted or cancelled: nobody is handed them any more (one indexed UPDATE)."""
    s.execute(
        update(ValidationTask)
        .where(ValidationTask.document_id == document_id,
               ValidationTask.status.in_((TaskStatus.OPEN, TaskStatus.ASSIGNED)))
        .values(status=TaskStatus.SUPERSEDED, assigned_to=None)
    )


def _owned(document_id: str, tenant: str | None) -> Select:
    query = select(Document).where(Document.id == document_id)
    return query if tenant is None else query.where(Document.tenant == tenant)


def _slices(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
