"""Versioned message contracts, defined once and shared by every service.

A message is a Dramatiq message whose single argument is a JSON object validated against one
of these models on receipt (DESIGN rule 10): ids and small values only, never file bytes.
Each contract names the queue and actor that consume it, so a service sends to another
without importing it. Bump ``v`` (and accept both while old messages drain) on any change
that is not backward compatible.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from documind.errors import MalformedMessage


class Queues:
    """One queue per service, plus a lane for interactive queries so a bulk index backlog
    never delays a person waiting on a search."""

    INGEST = "ingest"
    EMBED = "embed"
    SEARCH = "search"
    SEARCH_QUERY = "search_query"
    VALIDATE = "validate"
    MAINTENANCE = "maintenance"

    ALL = (INGEST, EMBED, SEARCH, SEARCH_QUERY, VALIDATE, MAINTENANCE)


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


class DocumentWork(Contract):
    document_id: str = Field(min_length=1, max_length=36)
    generation: int = Field(ge=1)


class ChunkRange(DocumentWork):
    """Chunks ``start <= idx < end`` of one document generation."""

    start: int = Field(ge=0)
    end: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "ChunkRange":
        if self.end <= self.start:
            raise ValueError("end must be greater than start")
        return self


class ProcessDocument(DocumentWork):
    QUEUE = Queues.INGEST
    ACTOR = "ingest.process_document"


class EmbedChunks(ChunkRange):
    QUEUE = Queues.EMBED
    ACTOR = "embed.embed_chunks"


class IndexChunks(ChunkRange):
    QUEUE = Queues.SEARCH
    ACTOR = "search.index_chunks"


class DeleteDocument(Contract):
    QUEUE = Queues.SEARCH
    ACTOR = "search.delete_document"

    document_id: str = Field(min_length=1, max_length=36)


class SearchQuery(Contract):
    QUEUE = Queues.SEARCH_QUERY
    ACTOR = "search.query"

    query: str = Field(min_length=1, max_length=10_000)
    tenant: str = Field(min_length=1, max_length=64)
    top_k: int = Field(10, ge=1, le=1000)
    document_ids: list[str] | None = None
    model: str | None = Field(None, description="embedding model the caller expects")


class CheckIndex(Contract):
    """Compare the index with the database; with ``repair`` also fix it. Result: the report."""

    QUEUE = Queues.SEARCH
    ACTOR = "search.check_index"

    tenant: str | None = Field(None, min_length=1, max_length=64)
    repair: bool = False


class ReindexCollection(Contract):
    """Rebuild the index into a new collection and switch the alias to it."""

    QUEUE = Queues.SEARCH
    ACTOR = "search.reindex"


class OptimizeIndex(Contract):
    QUEUE = Queues.SEARCH
    ACTOR = "search.optimize_index"

    quantization: Literal["scalar", "none"] | None = Field(None, description="None: leave as is")


class RunWatchdog(Contract):
    QUEUE = Queues.MAINTENANCE
    ACTOR = "maintenance.watchdog"

    stale_after_s: float | None = Field(None, ge=0, description="default: the setting")


ALL_CONTRACTS: tuple[type[Contract], ...] = (
    ProcessDocument,
    EmbedChunks,
    IndexChunks,
    DeleteDocument,
    SearchQuery,
    CheckIndex,
    ReindexCollection,
    OptimizeIndex,
    RunWatchdog,
)
