"""Composition root of the embed service (``dramatiq documind_embed.worker:setup``)."""

from __future__ import annotations

import dramatiq

from documind.contracts import EmbedChunks
from documind.embedding import shared_encoder
from documind.runtime import Runtime, boot
from documind.tasks import declare

from documind_embed.embedder import ChunkEmbedder


def register(runtime: Runtime) -> None:
    declare(runtime, EmbedChunks, ChunkEmbedder(runtime, shared_encoder(runtime)).embed)


def setup() -> dramatiq.Broker:
    return boot(register)
