"""The encoder of the active model version, as the embed stage uses it. The database says which
version is active; reading it for every message would cost a query each, so the reading is
trusted for ``refresh_s``. Vectors made with the old model in that window after a switch are
not wrong anywhere: the indexer re-embeds rows whose model is not the live collection's."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from documind.embedding import Encoder, encoder_for
from documind.model_registry import ModelRegistry, ModelRef


@dataclass
class ActiveEncoder:
    runtime: object
    registry: ModelRegistry
    refresh_s: float = 5.0
    _ref: ModelRef | None = field(default=None, init=False)
    _read_at: float = field(default=0.0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __call__(self) -> Encoder:
        with self._lock:
            now = time.monotonic()
            if self._ref is None or now - self._read_at >= self.refresh_s:
                self._ref, self._read_at = self.registry.active(), now
            ref = self._ref
        return encoder_for(self.runtime, ref)
