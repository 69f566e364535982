"""The ``embed.train_model`` job: fine-tune the active model on the pairs of a
``model_versions`` row, evaluate it against the model active at the end on the held-out pairs,
and register it as ``candidate`` only if it is better (else ``rejected``, both figures kept).
Progress (step/total, loss) is written to the row as it goes; any error ends the row
``failed`` with the reason, so ``documind model list`` never shows a job that silently died."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from typing import Any

from documind.contracts import TrainModel
from documind.db.models import ModelStatus
from documind.embedding import encoder_for
from documind.logging import get_logger
from documind.model_registry import ModelRegistry
from documind.runtime import Runtime

from documind_embed.finetune import TrainConfig, evaluate, is_better, parse_pairs, split_pairs, train

METRIC = "ndcg@10"


def model_key(version: int) -> str:
    """The model folder's path in the file store."""
    return f"models/v{version}"


@dataclass
class ModelTrainer:
    runtime: Runtime
    registry: ModelRegistry

    def run(self, work: TrainModel) -> dict[str, Any]:
        row = self.registry.row(work.version)
        if row["status"] != ModelStatus.TRAINING.value:
            # A redelivery of a job that already ended: its outcome stands.
            return row
        try:
            self._train(work.version, row)
        except BaseException as exc:  # noqa: BLE001 - the time limit too: the row must end
            self.registry.update(work.version, status=ModelStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            get_logger("documind.embed").exception("model training failed", version=work.version)
            raise
        return self.registry.row(work.version)

    def _train(self, version: int, row: dict[str, Any]) -> None:
        st = self.runtime.settings
        params = row["params"]
        with self.runtime.storage.open(row["pairs_path"]) as fh:
            pairs = parse_pairs(fh.read(), row["pairs_path"])
        train_pairs, held_out = split_pairs(pairs, float(params["held_out"]), seed=int(params.get("seed", 13)))
        # Trained from torch weights: an export's source, the package's files for version 1.
        parent = self.registry.torch_source(self.registry.get(row["parent_version"]))
        config = TrainConfig(
            epochs=int(params["epochs"]), batch_size=int(params["batch_size"]),
            learning_rate=float(params["learning_rate"]), seed=int(params.get("seed", 13)),
            max_steps=params.get("max_steps"),
        )
        key = model_key(version)
        out = st.effective_storage_dir / key
        if out.exists():
            shutil.rmtree(out)  # left by an interrupted run of this very job
        started = time.monotonic()
        result = train(parent.path, train_pairs, out, config, self.registry.progress_writer(version), st.torch_threads)
        self.registry.update(
            version, path=key, train_seconds=round(time.monotonic() - started, 2),
            params={**params, "train_pairs": len(train_pairs), "held_out_pairs": len(held_out), "steps": result.steps},
        )
        candidate = self.registry.get(version)
        baseline = self.registry.active()  # the model it must beat is the one live now
        cand = evaluate(encoder_for(self.runtime, candidate).encode, held_out)
        base = evaluate(encoder_for(self.runtime, baseline).encode, held_out)
        better = is_better(cand, base, METRIC, st.finetune_min_gain)
        metrics = {
            "metric": METRIC, "candidate": cand[METRIC], "baseline": base[METRIC],
            "baseline_version": baseline.version, "candidate_detail": cand, "baseline_detail": base,
            "min_gain": st.finetune_min_gain,
        }
        self.registry.update(
            version, metrics=metrics, status=ModelStatus.CANDIDATE if better else ModelStatus.REJECTED,
            error=None if better else f"{METRIC} {cand[METRIC]} is not better than version {baseline.version}'s "
            f"{base[METRIC]} on {cand['queries']} held-out queries",
        )
        get_logger("documind.embed").info(
            "model trained", version=version, candidate=cand[METRIC], baseline=base[METRIC], better=better
        )
