"""The ``embed.retrain_classifier`` actor: a tenant's supervised classifier rebuilt in the
active embedding model's vector space after a model swap (``documind model activate`` /
``rollback`` send it), from the training examples stored with it.

The active version is read from the database now, not from the embed stage's cached reading
(``ActiveEncoder`` trusts it for ``DOCUMIND_MODEL_REFRESH_S``): the message arrives right after
the switch. A message for a model that is no longer active (swapped again since) does nothing:
the later activation sent its own. A redelivery (or the watchdog's re-send of a message it
took for lost, ``documind_maintenance.classifier_retrains``) finds the classifier current and
does nothing; two copies at once are serialised by the tenant's training lock (the one
``embed.train_classifier`` holds), so the second finds it current too."""

from __future__ import annotations

from dataclasses import dataclass

from documind.contracts import RetrainClassifier
from documind.embedding import encoder_for
from documind.errors import TransientError
from documind.label_model import retrain
from documind.locks import JobLock
from documind.logging import get_logger
from documind.model_registry import ModelRegistry
from documind.runtime import Runtime
from documind.taxonomy import TaxonomyError


@dataclass
class ClassifierRetrainer:
    runtime: Runtime
    registry: ModelRegistry
    lock: JobLock

    def run(self, work: RetrainClassifier) -> dict:
        active = self.registry.active()
        if active.name != work.embedding_model:
            return {"tenant": work.tenant, "result": "skipped",
                    "reason": f"{work.embedding_model} is no longer the active model ({active.name} is)"}
        with self.lock.hold(f"train-classifier:{work.tenant}") as held:
            if not held:
                # Retried with back-off: the run in progress may be a training in the old space.
                raise TransientError(f"another training of tenant {work.tenant!r}'s classifier runs")
            return self._retrain(work, active)

    def _retrain(self, work: RetrainClassifier, active) -> dict:  # noqa: ANN001 - a ModelRef
        st = self.runtime.settings
        try:
            outcome = retrain(
                self.runtime.sessions, encoder_for(self.runtime, active), work.tenant,
                default_min_examples=st.classify_min_examples,
            )
        except TaxonomyError as exc:
            # The stored examples cannot train a model (not a transient error: no retry helps);
            # the old model stays, unused in this space, and `labels list` says so.
            outcome = {"tenant": work.tenant, "result": "failed", "reason": str(exc)}
        get_logger("documind.embed").info("label classifier retrain", **outcome)
        return outcome
