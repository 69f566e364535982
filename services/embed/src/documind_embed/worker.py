"""Composition root of the embed service (``dramatiq documind_embed.worker:setup``)."""

from __future__ import annotations

import dramatiq

from documind.contracts import EmbedChunks, TrainModel
from documind.embedding import shared_encoder
from documind.model_registry import build_registry
from documind.runtime import Runtime, boot
from documind.tasks import declare

from documind_embed.active_model import ActiveEncoder
from documind_embed.embedder import ChunkEmbedder
from documind_embed.training import ModelTrainer


def register(runtime: Runtime) -> None:
    registry = build_registry(runtime)
    active = ActiveEncoder(runtime, registry, runtime.settings.model_refresh_s)
    declare(runtime, EmbedChunks, ChunkEmbedder(runtime, shared_encoder(runtime), active=active).embed)
    declare(
        runtime, TrainModel, ModelTrainer(runtime, registry).run, store_results=True,
        time_limit_s=runtime.settings.model_train_time_limit_s,
    )


def setup() -> dramatiq.Broker:
    return boot(register)
