"""Composition root of the embed service (``dramatiq documind_embed.worker:setup``)."""

from __future__ import annotations

import dramatiq

from documind.contracts import ClassifyDocument, EmbedChunks
from documind.embedding import shared_encoder
from documind.runtime import Runtime, boot
from documind.tasks import declare

from documind_embed.classifier import DocumentClassifier
from documind_embed.embedder import ChunkEmbedder


def register(runtime: Runtime) -> None:
    encoder = shared_encoder(runtime)
    declare(runtime, EmbedChunks, ChunkEmbedder(runtime, encoder).embed)
    declare(runtime, ClassifyDocument, DocumentClassifier(runtime, encoder).classify_document)


def setup() -> dramatiq.Broker:
    return boot(register)
