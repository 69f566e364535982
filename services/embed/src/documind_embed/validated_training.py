"""The ``embed.train_classifier`` actor: retrain a tenant's supervised classifier from its
validated labels (``documind.validation.training``), sent by the validate side once enough
exist. One training per tenant at a time (a job lock); a message whose count the watermark
already reached trains nothing (a redelivery, or a twin sent by two decisions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from documind.contracts import TrainClassifier
from documind.embedding import Encoder
from documind.locks import JobLock
from documind.logging import get_logger
from documind.runtime import Runtime
from documind.taxonomy import TaxonomyError
from documind.validation.training import train_validated, watermark


@dataclass
class ValidatedTrainer:
    runtime: Runtime
    # The active model version's encoder: the classifier reads chunk vectors of that model.
    active: Callable[[], Encoder]
    lock: JobLock

    def run(self, work: TrainClassifier) -> dict[str, Any]:
        rt = self.runtime
        with self.lock.hold(f"train-classifier:{work.tenant}") as held:
            if not held:
                # The run in progress trains from everything validated so far; a later
                # decision sends a new trigger for what it missed.
                return {"tenant": work.tenant, "trained": False, "reason": "another training of the tenant runs"}
            if watermark(rt.sessions, work.tenant) >= work.validated_examples:
                # Checked before the encoder is loaded too: a redelivery costs one query.
                return {"tenant": work.tenant, "trained": False,
                        "reason": f"already trained from {work.validated_examples} or more examples"}
            try:
                out = train_validated(rt.sessions, self.active(), work.tenant,
                                      min_examples=rt.settings.classify_min_examples,
                                      at_least=work.validated_examples)
            except TaxonomyError as exc:
                # Not retryable (too few examples per label, no taxonomy): said, not raised.
                out = {"tenant": work.tenant, "trained": False, "reason": str(exc)}
        get_logger("documind.embed").info("classifier retrain", **out)
        return out
