"""SQLAlchemy 2 models: documents, their per-stage status, chunks, delivery receipts and the
dead-letter table. Status lives here, not in the broker (docs/design.md rule 1)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    DateTime,
    Enum,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from documind.contracts import Lane


def utcnow() -> datetime:
    # Naive UTC everywhere: SQLite drops tzinfo, and mixing aware and naive values breaks
    # comparisons; one convention for both databases.
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=False), dict: JSON, list: JSON}


class DocumentStatus(str, enum.Enum):
    RECEIVED = "received"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DELETED = "deleted"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {DocumentStatus.COMPLETED, DocumentStatus.FAILED, DocumentStatus.CANCELLED, DocumentStatus.DELETED}
)


class StageName(str, enum.Enum):
    """Pipeline stages in order; the document's ``stage`` is the one last entered."""

    VALIDATE = "validate"
    EXTRACT = "extract"
    CHUNK = "chunk"
    EMBED = "embed"
    INDEX = "index"


class StageState(str, enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _enum(e: type[enum.Enum], name: str) -> Enum:
    # Store values (not names) as plain strings: portable across SQLite and Postgres and
    # migration-friendly (adding a member needs no ALTER TYPE).
    return Enum(e, name=name, native_enum=False, length=16, values_callable=lambda x: [m.value for m in x])


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("tenant", "sha256", name="uq_documents_tenant_sha256"),
        # The watchdog's follow-up check (documind_maintenance.followup) reads only completed
        # documents still lacking a follow-up: partial indexes keep it off the whole corpus.
        Index("ix_documents_followup_classify", "completed_at", "id",
              postgresql_where=sql_text("status = 'completed' AND (metadata -> 'classification') IS NULL"),
              sqlite_where=sql_text("status = 'completed' AND json_extract(metadata, '$.classification') IS NULL")),
        Index("ix_documents_followup_enrich", "completed_at", "id",
              postgresql_where=sql_text("status = 'completed' AND enriched_generation IS NULL"),
              sqlite_where=sql_text("status = 'completed' AND enriched_generation IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    source_name: Mapped[str] = mapped_column(String(1024))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(1024))
    mime_type: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[DocumentStatus] = mapped_column(_enum(DocumentStatus, "document_status"), index=True)
    stage: Mapped[StageName | None] = mapped_column(_enum(StageName, "stage_name"))
    # Bumped on every (re)processing; messages carry it so stale work is dropped.
    generation: Mapped[int] = mapped_column(Integer, default=1)
    error: Mapped[str | None] = mapped_column(Text)
    chunk_count: Mapped[int | None] = mapped_column(Integer)
    metadata_: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    # Priority lane every stage's messages travel on (contracts.Lane); the watchdog keeps it.
    lane: Mapped[Lane] = mapped_column(
        _enum(Lane, "lane"), default=Lane.INTERACTIVE, server_default=Lane.INTERACTIVE.value
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    completed_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    # A deleted or cancelled document's index points confirmed gone (the search service).
    purged_at: Mapped[datetime | None]
    # Every validation task of the current generation answered (the validate service); a
    # flag beside the pipeline status, not a status: the document stays searchable throughout.
    validated_at: Mapped[datetime | None]
    validated_confidence: Mapped[float | None] = mapped_column(Float)
    # The generation whose enrichment summary (document_enrichment) was written
    # (embed.finish_enrichment); None until then, and again from each new generation: the
    # follow-up check's partial index holds the completed documents where it is None.
    enriched_generation: Mapped[int | None] = mapped_column(Integer)

    stages: Mapped[list["Stage"]] = relationship(
        back_populates="document", cascade="all, delete-orphan", order_by="Stage.id"
    )


class Stage(Base):
    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("document_id", "name", name="uq_stages_document_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    name: Mapped[StageName] = mapped_column(_enum(StageName, "stage_name"))
    state: Mapped[StageState] = mapped_column(_enum(StageState, "stage_state"), index=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    units_done: Mapped[int] = mapped_column(Integer, default=0)
    units_total: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)

    document: Mapped[Document] = relationship(back_populates="stages")


class Chunk(Base):
    __tablename__ = "chunks"
    __table_args__ = (UniqueConstraint("document_id", "idx", name="uq_chunks_document_idx"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    idx: Mapped[int] = mapped_column(Integer)
    generation: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int] = mapped_column(Integer)
    page_start: Mapped[int | None] = mapped_column(Integer)
    page_end: Mapped[int | None] = mapped_column(Integer)
    element_types: Mapped[list] = mapped_column(JSON, default=list)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(255))
    embedded_at: Mapped[datetime | None]
    indexed_at: Mapped[datetime | None]
    # The chunk's top label when its document was classified: {"name", "score"} (issue 11).
    classification: Mapped[dict | None] = mapped_column(JSON)
    # A validator rejected the chunk: it stays in the database (audit, training data) but
    # never in search; the indexer, index check and re-index skip it.
    rejected_at: Mapped[datetime | None]
    # The correction outbox: a person's decision changed the chunk and its revision messages
    # are not yet applied by the search service. Set in the deciding transaction, cleared
    # when the revision is indexed; the watchdog re-sends what waits past a grace period.
    revision_pending_at: Mapped[datetime | None] = mapped_column(index=True)


class PageRangeResult(Base):
    """Chunks of one page range of a document generation, waiting for the rest of the
    document: when the last range lands they are numbered in page order into ``chunks``
    (dense ``idx``) and these rows are removed."""

    __tablename__ = "page_range_results"
    __table_args__ = (
        UniqueConstraint("document_id", "generation", "first_page", name="uq_page_range_results_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    first_page: Mapped[int] = mapped_column(Integer)
    last_page: Mapped[int] = mapped_column(Integer)
    ocr_pages: Mapped[int] = mapped_column(Integer, default=0)
    # [{text, token_count, page_start, page_end, element_types}, ...] in reading order
    chunks: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeadLetter(Base):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(64), index=True)
    queue: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    document_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    redriven_at: Mapped[datetime | None]


class QueryLogEntry(Base):
    """One search query as the search service answered it (analytics, retention-pruned)."""

    __tablename__ = "query_log"
    __table_args__ = (
        Index("ix_query_log_tenant_created_at", "tenant", "created_at"),
        Index("ix_query_log_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64))
    query: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(32))
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    top_k: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    result_count: Mapped[int] = mapped_column(Integer)
    top_ids: Mapped[list] = mapped_column(JSON, default=list)
    cache_hit: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaxonomyLabel(Base):
    """One label of a tenant's classification taxonomy; its description is what zero-shot
    classification compares documents with, so it should read like the documents it names."""

    __tablename__ = "taxonomy_labels"
    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_taxonomy_labels_tenant_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LabelClassifier(Base):
    """A tenant's supervised classifier: one-vs-rest logistic regression on document
    embeddings, stored as plain float32 weights (never a pickle), so loading one cannot run
    code and it travels with the database's backups and transactions."""

    __tablename__ = "label_classifiers"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    embedding_model: Mapped[str] = mapped_column(String(255))
    labels: Mapped[list] = mapped_column(JSON)  # label names, the row order of ``weights``
    weights: Mapped[bytes] = mapped_column(LargeBinary)  # float32, len(labels) x dimension
    bias: Mapped[bytes] = mapped_column(LargeBinary)  # float32, len(labels)
    examples: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict] = mapped_column(JSON, default=dict)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the watchdog last re-sent its RetrainClassifier (documind_maintenance.classifier_retrains):
    # a classifier that cannot be rebuilt is asked again once per DOCUMIND_CLASSIFIER_RETRAIN_RESEND_AFTER_S.
    retrain_sent_at: Mapped[datetime | None]


class LabelTrainingExample(Base):
    """One example a tenant's supervised classifier was trained on. Kept (replaced with each
    training) because the classifier is tied to one embedding model's vector space: after a
    model swap it is rebuilt from these in the new space (``documind.label_model.retrain``)."""

    __tablename__ = "label_training_examples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    labels: Mapped[list] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(String(64))  # where the example came from, e.g. "file:train.jsonl"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChunkEnrichment(Base):
    """What the embed stage learned about one chunk besides its vector: sentiment, the quality
    signals and the confidence they give (``documind_embed.quality``). Goes with the chunk."""

    __tablename__ = "chunk_enrichment"

    chunk_id: Mapped[str] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    idx: Mapped[int] = mapped_column(Integer)
    sentiment: Mapped[float] = mapped_column(Float)  # VADER compound score, -1..1
    sentiment_label: Mapped[str] = mapped_column(String(16))  # negative | neutral | positive
    quality: Mapped[dict] = mapped_column(JSON, default=dict)  # signal name -> value in 0..1
    confidence: Mapped[float] = mapped_column(Float)  # the validated figure once a person decided
    machine_confidence: Mapped[float | None] = mapped_column(Float)  # the AI stage's, once overridden
    reasons: Mapped[list] = mapped_column(JSON, default=list)  # signals that lowered it
    enriched_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChunkEntity(Base):
    """One entity found in a chunk, with its character offsets in the chunk's text."""

    __tablename__ = "chunk_entities"
    __table_args__ = (Index("ix_chunk_entities_document_type_value", "document_id", "type", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chunk_id: Mapped[str] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    generation: Mapped[int] = mapped_column(Integer)
    idx: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))  # documind.entity_keys.ENTITY_TYPES
    text: Mapped[str] = mapped_column(String(512))  # as written in the chunk
    value: Mapped[str] = mapped_column(String(256))  # normal form (documind.entity_keys)
    start: Mapped[int] = mapped_column(Integer)  # text == chunk.text[start:end]
    end: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))  # the library that found it


class DocumentEnrichment(Base):
    """The document's figures, aggregated from its chunks when it became searchable, and
    whether its low-confidence chunks were handed to the validate service (once per generation)."""

    __tablename__ = "document_enrichment"

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)
    sentiment: Mapped[float] = mapped_column(Float)
    sentiment_label: Mapped[str] = mapped_column(String(16))
    quality: Mapped[dict] = mapped_column(JSON, default=dict)
    confidence: Mapped[float] = mapped_column(Float)
    low_confidence_chunks: Mapped[int] = mapped_column(Integer, default=0)
    entity_counts: Mapped[dict] = mapped_column(JSON, default=dict)  # type -> distinct values
    review_sent_at: Mapped[datetime | None]
    enriched_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduledRun(Base):
    """One run of a periodic job for one scheduled tick. The primary key is the lock: the
    scheduler that inserts the row runs the job, a second scheduler (a rolling update briefly
    runs two) finds the row taken and skips that tick."""

    __tablename__ = "scheduled_runs"
    __table_args__ = (Index("ix_scheduled_runs_job_started_at", "job", "started_at"),)

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    tick: Mapped[datetime] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64))  # the message that runs it (its retries may too)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # sent | failed


class ModelStatus(str, enum.Enum):
    """A fine-tuned embedding model's life: ``training`` -> ``candidate`` (better than the
    model it was compared with) or ``rejected`` (not better) or ``failed``; a candidate
    becomes ``active`` by ``documind model activate`` (the one it replaced: ``retired``)."""

    TRAINING = "training"
    CANDIDATE = "candidate"
    REJECTED = "rejected"
    FAILED = "failed"
    ACTIVE = "active"
    RETIRED = "retired"


class ModelVersion(Base):
    """An embedding model version. Version 1 is the packaged base model and has no row: it is
    active while no row is (``documind.model_registry``)."""

    __tablename__ = "model_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Unique: chunk rows, point ids and collection metadata name the model by it.
    name: Mapped[str] = mapped_column(String(128), unique=True)
    base_model: Mapped[str] = mapped_column(String(128))  # the packaged model it descends from
    parent_version: Mapped[int] = mapped_column(Integer)  # the version it was fine-tuned from
    # The saved model folder, relative to the file store (never downloaded).
    path: Mapped[str | None] = mapped_column(String(512))
    # What runs it: "torch" (sentence-transformers) or an ONNX Runtime export ("onnx-int8",
    # "onnx-fp32"; ``documind.onnx_model``). An export's vectors differ from its source's, so
    # it is a version of its own.
    backend: Mapped[str] = mapped_column(String(16), default="torch", server_default="torch")
    pairs_path: Mapped[str | None] = mapped_column(String(512))
    status: Mapped[ModelStatus] = mapped_column(_enum(ModelStatus, "model_status"), index=True)
    # {"epochs", "held_out", "batch_size", "train_pairs", "held_out_pairs", ...}
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    # {"step", "total", "loss", "epoch"} while training
    progress: Mapped[dict] = mapped_column(JSON, default=dict)
    # {"metric": "ndcg@10", "candidate": x, "baseline": y, "baseline_version": n, ...}
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    # The version that was active when this one was activated: what ``model rollback`` restores.
    previous_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]


class AuditEntry(Base):
    """One state change (who, what, when, before, after, why), append-only and hash-chained:
    ``hash`` covers the row's content and ``prev_hash``, so a changed or deleted row breaks
    the chain (``documind.audit``)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head (one row, id 1): its last seq and hash. Every append updates it
    first, so its row lock serializes appends on Postgres (the chain never forks), and
    deleting the newest rows is detected (the head no longer matches the last row)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class Validator(Base):
    __tablename__ = "validators"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    languages: Mapped[list] = mapped_column(JSON, default=list)  # empty: any language
    capacity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Agreement with the final decision over tasks answered by more than one validator.
    compared: Mapped[int] = mapped_column(Integer, default=0)
    agreed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskStatus(str, enum.Enum):
    OPEN = "open"            # waiting for a validator
    ASSIGNED = "assigned"    # held by ``assigned_to`` since ``assigned_at``
    ANSWERED = "answered"    # decided: ``outcome`` is final
    SUPERSEDED = "superseded"  # a newer generation (or removal) of the document made it moot


class Verdict(str, enum.Enum):
    APPROVE = "approve"
    CORRECT = "correct"
    REJECT = "reject"


class ValidationTask(Base):
    """One chunk of one document generation a person should check. Unique per (document,
    generation, chunk): a redelivered ``ReviewChunks`` inserts nothing new."""

    __tablename__ = "validation_tasks"
    __table_args__ = (
        UniqueConstraint("document_id", "generation", "chunk_idx", name="uq_validation_tasks_chunk"),
        Index("ix_validation_tasks_queue", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int] = mapped_column(Integer)
    chunk_idx: Mapped[int] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    document_confidence: Mapped[float] = mapped_column(Float)  # the document's, when flagged
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    lane: Mapped[Lane] = mapped_column(_enum(Lane, "lane"), default=Lane.INTERACTIVE)
    # Lower first: interactive before bulk, then the least confident.
    priority: Mapped[float] = mapped_column(Float)
    status: Mapped[TaskStatus] = mapped_column(_enum(TaskStatus, "task_status"))
    required_answers: Mapped[int] = mapped_column(Integer, default=1)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("validators.id"), index=True)
    assigned_at: Mapped[datetime | None]
    outcome: Mapped[Verdict | None] = mapped_column(_enum(Verdict, "verdict"))
    final_confidence: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]


class ValidationAnswer(Base):
    __tablename__ = "validation_answers"
    __table_args__ = (UniqueConstraint("task_id", "validator_id", name="uq_validation_answers_task_validator"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("validation_tasks.id", ondelete="CASCADE"), index=True)
    validator_id: Mapped[int] = mapped_column(ForeignKey("validators.id"))
    verdict: Mapped[Verdict] = mapped_column(_enum(Verdict, "verdict"))
    text: Mapped[str | None] = mapped_column(Text)  # a correction's new text
    labels: Mapped[list | None] = mapped_column(JSON)  # confirmed or corrected labels
    original_text: Mapped[str | None] = mapped_column(Text)  # the chunk as the validator saw it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChunkValidation(Base):
    """What a person decided about one chunk (the latest decision): who and when, the labels
    they confirmed or corrected, whether its entities were confirmed, and the validated
    confidence. Kept apart from ``chunk_enrichment`` (which re-enrichment of corrected text
    replaces) and from the tasks (which retention removes): it is the supervised
    classifier's training data (``documind labels train --validated``)."""

    __tablename__ = "chunk_validations"

    chunk_id: Mapped[str] = mapped_column(ForeignKey("chunks.id", ondelete="CASCADE"), primary_key=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    idx: Mapped[int] = mapped_column(Integer)
    task_id: Mapped[int] = mapped_column(Integer)  # no foreign key: retention may remove the task
    verdict: Mapped[str] = mapped_column(String(16))  # approve | correct | reject
    labels: Mapped[list | None] = mapped_column(JSON)  # confirmed or corrected; None: none known
    labels_corrected: Mapped[bool] = mapped_column(Boolean, default=False)
    entities_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float] = mapped_column(Float)
    confirmed_by: Mapped[str] = mapped_column(String(128))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DetachedValidation(Base):
    """A person's decision about a chunk that is gone (its document was re-processed, deleted
    or cancelled): the ``chunk_validations`` row as it was, with the text it judged, kept
    apart from the chunk rows so that deleting a chunk never loses it
    (``documind.validation.carry``). When a re-processed document has a chunk with the same
    text (``content_hash``), the decision is carried onto it (``carried_to``); otherwise it
    stays here as history, not applied, and its text and labels still train the classifier."""

    __tablename__ = "detached_validations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # With the document row (retention removes a deleted document's rows), not with its chunks.
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    chunk_id: Mapped[str] = mapped_column(String(36))  # the chunk it was decided on (gone)
    generation: Mapped[int] = mapped_column(Integer)
    idx: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)  # the chunk's text when it was detached
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of ``text`` (documind.validation.carry)
    task_id: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str] = mapped_column(String(16))
    labels: Mapped[list | None] = mapped_column(JSON)
    labels_corrected: Mapped[bool] = mapped_column(Boolean, default=False)
    entities_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float] = mapped_column(Float)
    confirmed_by: Mapped[str] = mapped_column(String(128))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)
    detached_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The chunk of a later generation the decision was carried onto (None: history only).
    carried_to: Mapped[str | None] = mapped_column(String(36))
    carried_generation: Mapped[int | None] = mapped_column(Integer)


class ClassifierTrainingMark(Base):
    """How many validated examples the tenant's classifier was last trained from: the
    watermark that makes an automatic retrain run once per set (a redelivered trigger finds
    its count already reached)."""

    __tablename__ = "classifier_training_marks"

    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    validated_examples: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
