"""The ``embed.retrain_classifier`` actor: a tenant's supervised classifier rebuilt in the
active embedding model's vector space after a model swap (``documind model activate`` /
``rollback`` send it), from the training examples stored with it.

The active version is read from the database now, not from the embed stage's cached reading
(``ActiveEncoder`` trusts it for ``DOCUMIND_MODEL_REFRESH_S``): the message arrives right after
the switch. A message for a model that is no longer active (swapped again since) does nothing:
the later activation sent its own. A redelivery finds the classifier current and does nothing."""

from __future__ import annotations

from dataclasses import dataclass

from documind.contracts import RetrainClassifier
from documind.embedding import encoder_for
from documind.label_model import retrain
from documind.logging import get_logger
from documind.model_registry import ModelRegistry
from documind.runtime import Runtime
from documind.taxonomy import TaxonomyError


@dataclass
class ClassifierRetrainer:
    runtime: Runtime
    registry: ModelRegistry

    def run(self, work: RetrainClassifier) -> dict:
        active = self.registry.active()
        if active.name != work.embedding_model:
            return {"tenant": work.tenant, "result": "skipped",
                    "reason": f"{work.embedding_model} is no longer the active model ({active.name} is)"}
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
