"""Composition root of the embed service (``dramatiq documind_embed.worker:setup``)."""

from __future__ import annotations

from typing import Callable

import dramatiq

from documind.contracts import (
    ClassifyDocument, EmbedChunks, FinishEnrichment, RetrainClassifier, TrainClassifier, TrainModel,
)
from documind.embedding import Encoder, shared_encoder
from documind.locks import build_job_lock
from documind.model_registry import build_registry
from documind.runtime import Runtime, boot
from documind.tasks import declare

from documind_embed.active_model import ActiveEncoder
from documind_embed.classifier import DocumentClassifier
from documind_embed.embedder import ChunkEmbedder
from documind_embed.enrichment import ChunkEnricher, CompletedDocumentEnricher
from documind_embed.entities import EntityExtractor, load_spacy
from documind_embed.quality import WordList
from documind_embed.retrain import ClassifierRetrainer
from documind_embed.sentiment import SentimentAnalyzer, load_vader
from documind_embed.training import ModelTrainer
from documind_embed.validated_training import ValidatedTrainer


def register(runtime: Runtime) -> None:
    st = runtime.settings
    encoder = shared_encoder(runtime)
    registry = build_registry(runtime)
    active = ActiveEncoder(runtime, registry, st.model_refresh_s)
    enricher = chunk_enricher(runtime, encoder) if st.enrichment_enabled else None
    declare(runtime, EmbedChunks, ChunkEmbedder(runtime, encoder, enricher, active=active).embed)
    declare(runtime, ClassifyDocument, DocumentClassifier(runtime, encoder, active=active).classify_document)
    declare(
        runtime, TrainModel, ModelTrainer(runtime, registry).run, store_results=True,
        time_limit_s=st.model_train_time_limit_s,
    )
    lock = build_job_lock(runtime.engine, st.data_dir)  # one training of a tenant's classifier at a time
    declare(runtime, RetrainClassifier, ClassifierRetrainer(runtime, registry, lock).run, store_results=True)

    if enricher is not None:
        # After the document is searchable, behind the same lane's document stages.
        declare(runtime, FinishEnrichment, CompletedDocumentEnricher(runtime, enricher).finish, priority_offset=10)
    else:
        declare(runtime, FinishEnrichment, lambda work: None)  # turned off: messages already sent are dropped
    declare(
        runtime, TrainClassifier, ValidatedTrainer(runtime, active, lock).run,
        store_results=True,
    )


def chunk_enricher(runtime: Runtime, encoder: Encoder) -> Callable[[], ChunkEnricher]:
    """The enricher, built on first use and then shared by the process's threads: spaCy's
    model (~50 MB), VADER's lexicon and the word lists load once per worker process."""
    st = runtime.settings

    def build() -> ChunkEnricher:
        return ChunkEnricher(
            EntityExtractor(load_spacy(), st.entity_phone_region),
            SentimentAnalyzer(load_vader()),
            WordList(),
            encoder.max_tokens,
        )

    return lambda: runtime.resource("chunk-enricher", build)


def setup() -> dramatiq.Broker:
    return boot(register)
