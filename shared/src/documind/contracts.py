"""Versioned message contracts, defined once and shared by every service.

A message is a Dramatiq message whose single argument is a JSON object validated against one
of these models on receipt (docs/design.md rule 10): ids and small values only, never file bytes.
Each contract names the queue and actor that consume it, so a service sends to another
without importing it. Bump ``v`` (and accept both while old messages drain) on any change
that is not backward compatible.
"""

from __future__ import annotations

from datetime import datetime, timezone
import enum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from documind.entity_keys import parse_entity_filter
from documind.errors import MalformedMessage
from documind.tenants import Tenant


class Lane(str, enum.Enum):
    """Priority lane of a document: every stage of a bulk document's work travels on the
    ``*_bulk`` queues, consumed by the same workers at a lower priority, so an interactive
    upload is never starved by a bulk import (nor by its embedding or indexing backlog)."""

    INTERACTIVE = "interactive"
    BULK = "bulk"


# Dramatiq orders a worker's work by actor priority (lower runs first) across all queues it
# consumes; a bulk actor is a twin of the interactive one with a higher number.
LANE_PRIORITY = {Lane.INTERACTIVE: 0, Lane.BULK: 100}
BULK_SUFFIX = "_bulk"


class Queues:
    """One queue per service, a bulk lane for each document stage, and a lane for
    interactive queries so a bulk index backlog never delays a person waiting on a search."""

    INGEST = "ingest"
    EMBED = "embed"
    SEARCH = "search"
    SEARCH_QUERY = "search_query"
    VALIDATE = "validate"
    MAINTENANCE = "maintenance"
    INGEST_BULK = INGEST + BULK_SUFFIX
    EMBED_BULK = EMBED + BULK_SUFFIX
    SEARCH_BULK = SEARCH + BULK_SUFFIX

    ALL = (INGEST, EMBED, SEARCH, SEARCH_QUERY, VALIDATE, MAINTENANCE, INGEST_BULK, EMBED_BULK, SEARCH_BULK)


class Contract(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    QUEUE: ClassVar[str]
    ACTOR: ClassVar[str]

    v: Literal[1] = 1

    @classmethod
    def parse(cls, payload: Any) -> "Contract":
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "payload"
            raise MalformedMessage(f"{cls.ACTOR}: bad message ({where}: {first['msg']})") from None

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def queue(self) -> str:
        """The queue this message travels on (its lane's, for document work)."""
        return self.QUEUE

    @property
    def actor(self) -> str:
        return self.ACTOR


def lane_queue(queue: str, lane: Lane) -> str:
    return queue + BULK_SUFFIX if lane is Lane.BULK else queue


def lane_actor(actor: str, lane: Lane) -> str:
    return actor + BULK_SUFFIX if lane is Lane.BULK else actor


class TenantScoped(Contract):
    """A message about one document of one tenant: on receipt a document of another tenant
    is treated as missing (tasks.declare). ``tenant`` is optional so messages sent before it
    existed still parse; when given it must be a valid tenant name."""

    document_id: str = Field(min_length=1, max_length=36)
    tenant: Tenant | None = None


class DocumentWork(TenantScoped):
    """Work on one generation of one document, on the document's lane."""

    generation: int = Field(ge=1)
    # Optional with a default, so messages sent before lanes existed still parse.
    lane: Lane = Lane.INTERACTIVE

    @property
    def queue(self) -> str:
        return lane_queue(self.QUEUE, self.lane)

    @property
    def actor(self) -> str:
        return lane_actor(self.ACTOR, self.lane)


class ChunkRange(DocumentWork):
    """Chunks ``start <= idx < end`` of one document generation."""

    start: int = Field(ge=0)
    end: int = Field(gt=0)
    # A completed document's chunks changed (a validator's correction or rejection): embed
    # or index just them, behind ``StatusStore.revision``; the document stays completed.
    # Optional, so messages sent before it existed still parse.
    revision: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> "ChunkRange":
        if self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


class ProcessDocument(DocumentWork):
    QUEUE = Queues.INGEST
    ACTOR = "ingest.process_document"


class ExtractPages(DocumentWork):
    """Pages ``first_page..last_page`` (1-based, inclusive) of a ``total_pages`` document:
    one page-range work unit of the ingest service."""

    QUEUE = Queues.INGEST
    ACTOR = "ingest.extract_pages"

    first_page: int = Field(ge=1)
    last_page: int = Field(ge=1)
    total_pages: int = Field(ge=1)

    @model_validator(mode="after")
    def _within(self) -> "ExtractPages":
        if not self.first_page <= self.last_page <= self.total_pages:
            raise ValueError("need first_page <= last_page <= total_pages")
        return self


class EmbedChunks(ChunkRange):
    QUEUE = Queues.EMBED
    ACTOR = "embed.embed_chunks"


class IndexChunks(ChunkRange):
    QUEUE = Queues.SEARCH
    ACTOR = "search.index_chunks"


class DeleteDocument(TenantScoped):
    QUEUE = Queues.SEARCH
    ACTOR = "search.delete_document"


SearchMode = Literal["dense", "keyword", "hybrid"]


class SearchOptions(Contract):
    """What every search request carries besides its text: the tenant (always enforced),
    result count, retrieval mode (``None``: the service's ``DOCUMIND_SEARCH_MODE``) and filters."""

    tenant: Tenant
    top_k: int = Field(10, ge=1, le=1000)
    mode: SearchMode | None = None
    document_ids: list[str] | None = None
    mime_types: list[str] | None = None
    labels: list[str] | None = None
    entities: list[str] | None = Field(
        None, max_length=64, description="TYPE:VALUE entity keys; a chunk matches if it has any of them"
    )
    created_since: datetime | None = Field(None, description="documents created at or after (UTC)")
    created_until: datetime | None = Field(None, description="documents created before (UTC)")
    model: str | None = Field(None, description="embedding model the caller expects")

    @field_validator("entities")
    @classmethod
    def _entity_keys(cls, value: list[str] | None) -> list[str] | None:
        # One normal form for the filter and the points' payload (documind.entity_keys).
        return None if value is None else [parse_entity_filter(v) for v in value]

    @model_validator(mode="after")
    def _date_order(self) -> "SearchOptions":
        if self.created_since and self.created_until and _utc(self.created_since) >= _utc(self.created_until):
            raise ValueError("created_since must be earlier than created_until")
        return self


def _utc(dt: datetime) -> datetime:
    """Naive datetimes are UTC (as the search filters read them): comparing a naive with an
    aware one raised TypeError, which pydantic does not turn into a validation error."""
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt


class SearchQuery(SearchOptions):
    QUEUE = Queues.SEARCH_QUERY
    ACTOR = "search.query"

    query: str = Field(min_length=1, max_length=10_000)


class BatchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=256)
    text: str = Field(min_length=1, max_length=10_000)


class SearchBatch(SearchOptions):
    """Many queries with the same options in one message: the service encodes them in
    batches; the result is ``{"results": [{"id", "hits"}, ...]}`` in the same order."""

    QUEUE = Queues.SEARCH_QUERY
    ACTOR = "search.query_batch"

    queries: list[BatchQuery] = Field(min_length=1, max_length=1000)


class CheckIndex(Contract):
    """Compare the index with the database; with ``repair`` also fix it. Result: the report."""

    QUEUE = Queues.SEARCH
    ACTOR = "search.check_index"

    tenant: Tenant | None = None
    repair: bool = False


class ReindexCollection(Contract):
    """Rebuild the index into a new collection and switch the alias to it."""

    QUEUE = Queues.SEARCH
    ACTOR = "search.reindex"


class OptimizeIndex(Contract):
    QUEUE = Queues.SEARCH
    ACTOR = "search.optimize_index"

    quantization: Literal["scalar", "none"] | None = Field(None, description="None: leave as is")


class TrainModel(Contract):
    """Fine-tune the embedding model for the ``model_versions`` row ``version`` (created by
    ``documind model train`` in status ``training``, its pairs in the file store). Result:
    the row as it ended (candidate, rejected or failed)."""

    QUEUE = Queues.EMBED
    ACTOR = "embed.train_model"

    version: int = Field(ge=2)


class ActivateModel(Contract):
    """Re-embed every live chunk with model ``version`` into a new collection and switch the
    alias to it (search answers from the old collection meanwhile); then record the version
    as active. Result: the re-index report."""

    QUEUE = Queues.SEARCH
    ACTOR = "search.activate_model"

    version: int = Field(ge=1)


class RetrainClassifier(Contract):
    """Rebuild ``tenant``'s supervised label classifier from its stored training examples in
    ``embedding_model``'s vector space (sent by the model activation for every tenant whose
    classifier is of another model). Idempotent: a classifier already of that model is left
    alone, and one for a model that is no longer active is not trained."""

    QUEUE = Queues.EMBED
    ACTOR = "embed.retrain_classifier"

    tenant: Tenant
    embedding_model: str = Field(min_length=1, max_length=255)


class RunWatchdog(Contract):
    QUEUE = Queues.MAINTENANCE
    ACTOR = "maintenance.watchdog"

    # Finite only: infinity passed ``ge=0``, then broke the watchdog's timedelta (and JSON).
    stale_after_s: float | None = Field(None, ge=0, allow_inf_nan=False, description="default: the setting")


class PruneQueryLog(Contract):
    QUEUE = Queues.MAINTENANCE
    ACTOR = "maintenance.prune_query_log"

    retention_days: int | None = Field(None, ge=1, description="default: the setting")


class RunIndexCheck(Contract):
    """The scheduled index check: the maintenance worker sends ``CheckIndex(repair=True)`` to
    the search service, which repairs only what it finds damaged."""

    QUEUE = Queues.MAINTENANCE
    ACTOR = "maintenance.index_check"


class RunCleanup(Contract):
    """Database rows past retention and stored files no live document uses (maintenance)."""

    QUEUE = Queues.MAINTENANCE
    ACTOR = "maintenance.cleanup"

    dry_run: bool = False


class RunBackup(Contract):
    """A backup into DOCUMIND_BACKUP_DIR (the scheduled backup; maintenance)."""

    QUEUE = Queues.MAINTENANCE
    ACTOR = "maintenance.backup"


class SweepSearchCache(Contract):
    QUEUE = Queues.MAINTENANCE
    ACTOR = "maintenance.sweep_search_cache"


class LowConfidenceChunk(BaseModel):
    """One chunk a person should look at: its confidence and the signals that lowered it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    idx: int = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    reasons: list[str] = Field(default_factory=list, max_length=32)


class ReviewChunks(TenantScoped):
    """Chunks of one document generation whose confidence fell below the validation
    threshold (the AI-processing stage sends it; the validate service opens one task per
    chunk, idempotently). ``lane`` is the document's lane, used to prioritize the tasks: the
    validate queue itself has no bulk twin. ``document_confidence`` is the document's own
    figure after enrichment."""

    QUEUE = Queues.VALIDATE
    ACTOR = "validate.review_chunks"

    generation: int = Field(ge=1)
    lane: Lane = Lane.INTERACTIVE
    document_confidence: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    chunks: list[LowConfidenceChunk] = Field(min_length=1, max_length=10_000)


class ClassifyDocument(TenantScoped):
    """Classify one completed document generation into its tenant's taxonomy (sent when the
    document becomes searchable). Not a ``DocumentWork``: a failure here must never fail a
    document that is already searchable; the work is dropped when the generation is no longer
    the completed one."""

    QUEUE = Queues.EMBED
    ACTOR = "embed.classify_document"

    generation: int = Field(ge=1)


class RefreshPayload(TenantScoped):
    """Re-derive the index payload (labels) of one completed document generation from the
    database and set it on the document's existing points."""

    QUEUE = Queues.SEARCH
    ACTOR = "search.refresh_payload"

    generation: int = Field(ge=1)


class FinishEnrichment(DocumentWork):
    """Sent by the search service when a document generation became searchable: the embed
    service aggregates its chunks' sentiment, quality and confidence into the document's
    figures and hands chunks below the validation threshold on (``ReviewChunks``), once per
    generation."""

    QUEUE = Queues.EMBED
    ACTOR = "embed.finish_enrichment"


class TrainClassifier(Contract):
    """Retrain the tenant's supervised classifier from its validated labels (sent after a
    decision once enough exist). ``validated_examples`` is the count the sender saw: the embed
    service trains only if its watermark is below it, so a redelivery trains nothing twice."""

    QUEUE = Queues.EMBED
    ACTOR = "embed.train_classifier"

    tenant: Tenant
    validated_examples: int = Field(ge=1)


# Contracts with one actor per lane (the document stages).
LANED_CONTRACTS: tuple[type[DocumentWork], ...] = (
    ProcessDocument, ExtractPages, EmbedChunks, IndexChunks, FinishEnrichment,
)

ALL_CONTRACTS: tuple[type[Contract], ...] = (
    ProcessDocument,
    ExtractPages,
    EmbedChunks,
    IndexChunks,
    DeleteDocument,
    SearchQuery,
    SearchBatch,
    CheckIndex,
    ReindexCollection,
    OptimizeIndex,
    TrainModel,
    ActivateModel,
    RetrainClassifier,
    RunWatchdog,
    PruneQueryLog,
    RunIndexCheck,
    RunCleanup,
    SweepSearchCache,
    RunBackup,
    ReviewChunks,
    ClassifyDocument,
    RefreshPayload,
    FinishEnrichment,
    TrainClassifier,
)


def known_contracts() -> dict[str, type[Contract]]:
    """Every actor name a DocuMind worker declares (the bulk twins included) -> its contract."""
    names: dict[str, type[Contract]] = {c.ACTOR: c for c in ALL_CONTRACTS}
    names.update({lane_actor(c.ACTOR, Lane.BULK): c for c in LANED_CONTRACTS})
    return names
