"""Typed settings, read from ``DOCUMIND_*`` environment variables.

Built by :func:`load_settings` (never at import) so tests and composition roots decide when
configuration is read. Bad values fail fast with one readable line per problem; secrets are
``SecretStr`` and never appear in ``repr`` or logs.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from documind.tenants import Tenant

ENV_PREFIX = "DOCUMIND_"


class RunMode(str, Enum):
    EMBEDDED = "embedded"
    DISTRIBUTED = "distributed"


class SettingsError(ValueError):
    """Configuration is invalid; the message names each bad variable and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    mode: RunMode = Field(RunMode.EMBEDDED, description="embedded (no servers) or distributed")
    data_dir: Path = Field(Path(".documind"), description="root for embedded-mode state")
    database_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL; default: SQLite file in data_dir"
    )
    redis_url: SecretStr = Field(
        SecretStr("redis://127.0.0.1:6379/0"), description="broker + results (distributed)"
    )
    redis_namespace: str = Field(
        "documind", pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="prefix of every Redis key (queues, results, receipts, cache): lets "
        "several deployments share one Redis",
    )
    qdrant_url: SecretStr | None = Field(None, description="Qdrant server URL; unset = local mode")
    qdrant_api_key: SecretStr | None = None
    qdrant_path: Path | None = Field(None, description="local-mode folder; default data_dir/qdrant")
    qdrant_collection: str = "documind_chunks"
    storage_dir: Path | None = Field(None, description="file store; default data_dir/files")

    default_tenant: Tenant = Field("default", description="tenant of commands given no --tenant")
    max_file_bytes: int = Field(100 * 1024 * 1024, gt=0)
    zip_max_uncompressed_bytes: int = Field(
        512 * 1024 * 1024, gt=0, description="zip-based uploads (docx, xlsx, epub...) expanding beyond this are refused"
    )
    zip_max_ratio: float = Field(100.0, gt=1, description="refuse zip-based uploads compressed more than this (zip bomb)")
    # Budgets checked before the work (ingest's resource-bomb guards, services/ingest/README.md).
    max_page_pixels: int = Field(
        50_000_000, ge=1_000_000,
        description="pixels of one image or rendered PDF page: PDF pages over it are rendered for OCR at a "
        "lower resolution that fits, images over it are refused (checked from the header, before decoding)",
    )
    max_pages: int = Field(5_000, ge=1, description="PDFs with more pages are refused at validation")
    max_text_bytes: int = Field(
        20 * 1024 * 1024, ge=1024,
        description="plain text (txt, md, csv, html, xml...) larger than this is refused; smaller text is "
        "read in bounded windows",
    )
    chunk_max_chars: int = Field(1000, ge=100)
    chunk_overlap_chars: int = Field(0, ge=0)
    chunk_max_tokens: int = Field(256, ge=16, description="the embedding model's window")
    ocr_languages: str = Field(
        "eng+kor", pattern=r"^[a-z_]{3,}(\+[a-z_]{3,})*$",
        description="Tesseract languages; each needs its tesseract-ocr-<lang> pack (checked at start)",
    )
    pdf_ocr_min_chars_per_page: int = Field(20, ge=0, description="below this, OCR the PDF page")
    ingest_pages_per_range: int = Field(25, ge=1, description="PDF pages per ingest work unit")
    min_text_chars: int = Field(10, ge=1, description="documents with less text fail")
    renditions: bool = Field(True, description="store JSON/Markdown/text renditions of completed documents")
    searchable_pdf: bool = Field(True, description="also a searchable PDF (OCRmyPDF) of OCR'd scans and images")
    ocr_timeout_s: float = Field(
        120.0, gt=0, description="one Tesseract run (one page or image); past it Tesseract is killed and the document fails"
    )
    convert_timeout_s: float = Field(
        120.0, gt=0,
        description="one LibreOffice (.doc/.ppt) or pandoc (.epub/.odt/.rtf/.rst) conversion; past it the "
        "converter is killed and the document fails",
    )

    embedding_model: str = "all-MiniLM-L6-v2"
    encoder_backend: Literal["torch", "onnx-int8"] = Field(
        "onnx-int8",
        description="what runs the packaged model (version 1): onnx-int8, its int8 ONNX Runtime export built "
        "at install time (documind model build-default; ~3-5x torch's speed, no torch import), or torch "
        "(sentence-transformers). Their vectors differ slightly, so the two are different models to the "
        "index: switching re-embeds with `documind model activate 1`",
    )
    embedding_batch_size: int = Field(32, ge=1, le=1024)
    embed_chunks_per_message: int = Field(128, ge=1)
    torch_threads: int = Field(0, ge=0, description="0 = torch default")
    enrichment_enabled: bool = Field(
        True, description="entities, sentiment and quality/confidence per chunk, once the document is searchable"
    )
    enrichment_chunks_per_message: int = Field(
        64, ge=1, le=10_000,
        description="chunks one embed.finish_enrichment message enriches (~25 ms each); a larger document "
        "continues in further messages, so no message runs long",
    )
    entity_phone_region: str = Field(
        "US", pattern=r"^[A-Z]{2}$",
        description="region (ISO 3166 alpha-2) for phone numbers written without a country code",
    )
    validation_threshold: float = Field(
        0.8, ge=0.0, le=1.0, allow_inf_nan=False,
        description="chunks whose confidence is below this go to the validate service for review",
    )

    # Classification (issue 11): zero-shot against label descriptions, or a tenant's trained model.
    classify_enabled: bool = Field(True, description="classify completed documents into their tenant's taxonomy")
    classify_min_score: float = Field(
        0.3, ge=0, le=1, description="labels scoring below this (0..1) are not given to a document"
    )
    classify_max_labels: int = Field(3, ge=1, le=100, description="at most this many labels per document")
    classify_temperature: float = Field(
        0.05, gt=0, le=1, description="zero-shot: softmax temperature over cosine similarities (lower = sharper)"
    )
    classify_null_similarity: float = Field(
        0.15, ge=-1, le=1,
        description="zero-shot: the cosine a 'no label fits' option competes with; documents near no label get none",
    )
    classify_min_examples: int = Field(
        5, ge=1, description="a label needs this many training examples before the supervised model is trained"
    )
    model_refresh_s: float = Field(
        5.0, ge=0, description="how long the embed stage trusts its reading of the active model version "
        "(after a `model activate` the indexer re-embeds anything embedded with the old one meanwhile)",
    )
    finetune_epochs: int = Field(1, ge=1, le=100, description="`model train` default epochs")
    finetune_batch_size: int = Field(
        16, ge=2, le=1024, description="pairs per fine-tuning step (in-batch negatives: bigger is harder, slower)"
    )
    finetune_learning_rate: float = Field(2e-5, gt=0, description="fine-tuning learning rate (AdamW, linear decay)")
    finetune_held_out: float = Field(
        0.2, gt=0, lt=1, description="`model train` default share of queries held out for the evaluation"
    )
    finetune_min_gain: float = Field(
        0.0, ge=0, description="a fine-tuned model becomes a candidate only if its held-out nDCG@10 beats the "
        "active model's by more than this",
    )
    model_train_time_limit_s: int = Field(6 * 3600, gt=0, description="time limit of a `model train` job")

    search_mode: Literal["dense", "keyword", "hybrid"] = Field(
        "hybrid", description="retrieval mode of a query that names none"
    )
    search_fusion: Literal["rrf", "dbsf"] = Field("dbsf", description="how hybrid search fuses dense and keyword")
    search_prefetch_limit: int = Field(100, ge=1, le=10_000, description="candidates per side in hybrid search")
    bm25_k1: float = Field(1.2, ge=0, description="BM25 term-frequency saturation")
    bm25_b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation")
    bm25_avg_len: float = Field(100.0, gt=0, description="assumed average chunk length in tokens")
    search_warm_up: bool = Field(True, description="search workers load the model and open the index at start")
    search_cache_enabled: bool = Field(True, description="cache search results (invalidated per tenant)")
    search_cache_ttl_s: int = Field(300, ge=1, description="how long a cached search result lives")
    search_cache_max_entries: int = Field(10_000, ge=1, description="embedded mode: in-process LRU size")
    query_log_retention_days: int = Field(
        30, ge=0, description="query_log rows older than this are pruned; 0 keeps them forever"
    )

    dead_letter_retention_days: int = Field(
        90, ge=0, description="dead_letters rows older than this are removed by cleanup; 0 keeps them forever"
    )
    deleted_document_retention_days: int = Field(
        7, ge=0,
        description="a deleted document's rows (chunks, stages, page ranges, then the document) are removed by "
        "cleanup this long after its deletion, once its index points are confirmed gone; 0 keeps them",
    )
    scheduled_run_retention_days: int = Field(
        30, ge=0, description="finished scheduled_runs rows older than this are removed by cleanup; 0 keeps them"
    )
    cleanup_batch_rows: int = Field(1000, ge=1, le=100_000, description="rows deleted per cleanup transaction")
    orphan_grace_s: float = Field(
        3600.0, ge=0, description="stored files younger than this are never removed by cleanup (uploads in flight)"
    )
    temp_file_max_age_s: float = Field(
        86_400.0, ge=0, description="temp files (.part-* in the store, documind-* temp folders) older than this go"
    )
    schedule_cleanup: str = Field("23 4 * * *", description="cron of database and file cleanup ('' = never)")
    schedule_cache_sweep: str = Field("*/15 * * * *", description="cron of the search-cache sweep ('' = never)")

    backup_dir: Path | None = Field(None, description="where `documind backup` writes; default data_dir/backups")
    backup_keep: int = Field(7, ge=0, description="backups kept in the backup folder, newest first (0 = keep all)")
    backup_timeout_s: float = Field(3600.0, gt=0, description="pg_dump / pg_restore / Qdrant snapshot time limit")
    schedule_backup: str = Field(
        "", description="cron of the scheduled backup into DOCUMIND_BACKUP_DIR ('' = never: choose where first)"
    )

    validation_assign_timeout_s: float = Field(
        3600.0, gt=0, description="an assigned, unanswered validation task goes back to the queue after this"
    )
    validation_required_answers: int = Field(
        1, ge=1, le=2, description="answers a validation task needs (2: two validators; if they disagree a third decides)"
    )
    validation_task_retention_days: int = Field(
        180, ge=0, description="answered (approved/rejected) and superseded validation tasks older than this are "
        "removed by cleanup; corrections stay (fine-tuning pairs) (0 = keep forever)",
    )
    classifier_min_validated: int = Field(
        10, ge=0, description="validated examples of a label (and new validated examples since the last training) "
        "that retrain the tenant's classifier automatically (0 = never automatically)",
    )
    revision_resend_after_s: float = Field(
        300.0, gt=0, description="a person's correction or rejection not indexed after this is re-sent by the watchdog",
    )

    # 20 retries backing off from 1 s to 60 s last about 8 to 15 minutes: a restart of Redis,
    # Postgres or Qdrant costs latency, never a document.
    max_retries: int = Field(20, ge=0, description="retries of transient errors, with backoff")
    min_backoff_ms: int = Field(1_000, ge=0)
    max_backoff_ms: int = Field(60_000, ge=0)
    max_deliveries: int = Field(
        6, ge=1, description="receipts that were not retries (crashes, kills) before dead-lettering"
    )
    message_time_limit_s: int = Field(1800, gt=0)
    index_maintenance_time_limit_s: int = Field(
        6 * 3600, gt=0, description="time limit of index check/repair/reindex/optimize messages"
    )
    message_max_age_s: int = Field(24 * 3600, gt=0)
    heartbeat_interval_s: float = Field(5.0, gt=0)
    stale_after_s: float = Field(600.0, gt=0, description="heartbeat age that marks a dead worker")
    classifier_retrain_resend_after_s: float = Field(
        900.0, gt=0,
        description="a supervised classifier still of another embedding model this long after a model switch "
        "(or after its last re-send) gets its RetrainClassifier re-sent by the watchdog",
    )
    watchdog_followup_batch: int = Field(
        1000, ge=1,
        description="completed documents per kind (classification, enrichment) whose lost follow-up one watchdog run re-sends",
    )
    max_stage_s: float = Field(
        7200.0, gt=0,
        description="one piece of a stage's work (one message's extraction, chunking or encoding) running "
        "longer than this fails its document, however fresh its heartbeat (a worker blocked in a child "
        "process or a C call keeps beating); time waiting in a queue never counts",
    )

    bulk_threshold_files: int = Field(
        10, ge=1, description="an ingest of more files than this goes to the bulk lane"
    )
    worker_threads: int = Field(2, ge=1)
    worker_processes: int = Field(1, ge=1)
    metrics_port: int = Field(0, ge=0, le=65535, description="0 disables the exporter")
    metrics_dir: Path | None = Field(None, description="prometheus multiprocess dir")
    liveness_file: Path | None = Field(None, description="touched while the worker is alive")
    health_port: int = Field(
        8080, ge=0, le=65535,
        description="distributed workers serve GET /livez and /readyz here (0 disables)",
    )
    liveness_stale_s: float = Field(
        60.0, gt=0, description="/livez fails when a consumer thread has not polled its queue for this long",
    )
    collector_port: int = Field(9300, ge=1, le=65535, description="port of `documind collector` (Prometheus)")
    health_min_free_bytes: int = Field(
        1024**3, ge=0, description="`documind health` fails when the file store's disk has less free space",
    )
    scheduler_stale_after_s: float = Field(
        180.0, gt=0, description="`documind health` fails when the scheduler's next tick is overdue by this long",
    )
    schedule_watchdog: str = Field("* * * * *", description="cron of the stuck-document watchdog ('' = never)")
    schedule_query_log_prune: str = Field("17 * * * *", description="cron of the query-log prune ('' = never)")
    schedule_index_check: str = Field(
        "41 3 * * *", description="cron of the index check, which repairs when it finds damage ('' = never)"
    )
    log_level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    log_json: bool = True

    @model_validator(mode="after")
    def _backoff_order(self) -> "Settings":
        if self.min_backoff_ms > self.max_backoff_ms:
            raise ValueError(f"{ENV_PREFIX}MIN_BACKOFF_MS must not exceed {ENV_PREFIX}MAX_BACKOFF_MS")
        return self

    # Derived locations: one place decides the embedded defaults.
    @property
    def effective_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'documind.db').resolve()}"

    @property
    def effective_qdrant_path(self) -> Path:
        return self.qdrant_path or self.data_dir / "qdrant"

    @property
    def effective_storage_dir(self) -> Path:
        return self.storage_dir or self.data_dir / "files"

    @property
    def effective_backup_dir(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    def redacted(self) -> dict[str, object]:
        """Settings as a dict safe to log: every secret (URLs may carry passwords) masked."""
        return self.model_dump(mode="json")

    def redact(self, text: str) -> str:
        """``text`` (an error message) with every secret masked, and every piece of a URL's
        password: a password with an unescaped ``/``, ``#``, ``?`` or ``@`` is split by URL
        parsers, which then echo a piece as a port or host name in their errors."""
        for secret in sorted(self._secret_pieces(), key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _secret_pieces(self) -> set[str]:
        pieces = {self.qdrant_api_key.get_secret_value()} if self.qdrant_api_key else set()
        for url in (self.database_url, self.redis_url, self.qdrant_url):
            if url is None:
                continue
            # The credentials run from after "scheme://" to the last "@", whatever they hold.
            credentials, at, _ = url.get_secret_value().partition("://")[2].rpartition("@")
            _user, colon, password = credentials.partition(":")
            if not (at and colon and password):
                continue
            for form in (password, unquote(password)):
                pieces.add(form)
                pieces.update(p for p in re.split(r"[:@/#?]", form) if len(p) >= 3)
        return {p for p in pieces if p}


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (overrides win); raise SettingsError on bad values."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{ENV_PREFIX}{loc.upper()}: {msg}" if err["loc"] else msg)
        raise SettingsError("invalid configuration: " + "; ".join(problems)) from None
