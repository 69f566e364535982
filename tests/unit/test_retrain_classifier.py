"""The ``embed.retrain_classifier`` actor on the embedded runtime: it trains only in the space
of the model active now (a message for a model swapped away since does nothing), and a
redelivery finds the classifier current."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from documind.contracts import RetrainClassifier
from documind.label_model import load_model, train_from_pairs
from documind.locks import build_job_lock
from documind.model_registry import build_registry
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings
from documind_embed.retrain import ClassifierRetrainer
from tests.unit.test_classification import MINI

# The base version on the default encoder backend (DOCUMIND_ENCODER_BACKEND=onnx-int8).
BASE = "all-MiniLM-L6-v2-onnx-int8"


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(data_dir=tmp_path, worker_threads=1), configure_logs=False)
    yield rt
    rt.close()


def test_retrain_only_for_the_active_model_and_once(runtime: Runtime) -> None:
    from documind.embedding import shared_encoder

    rt = runtime
    retrainer = ClassifierRetrainer(rt, build_registry(rt), build_job_lock(rt.engine, rt.settings.data_dir))
    pairs = [(t, [n]) for n, ts in MINI.items() for t in ts]
    train_from_pairs(rt.sessions, shared_encoder(rt), "acme", pairs, min_examples=5, source="file:mini.jsonl")

    stale = retrainer.run(RetrainClassifier(tenant="acme", embedding_model="all-MiniLM-L6-v2-ft-v9"))
    assert stale["result"] == "skipped" and "no longer the active model" in stale["reason"]
    # The packaged model on torch is another vector space than the active int8 one.
    torch_space = retrainer.run(RetrainClassifier(tenant="acme", embedding_model="all-MiniLM-L6-v2"))
    assert torch_space["result"] == "skipped", torch_space
    assert retrainer.run(RetrainClassifier(tenant="acme", embedding_model=BASE))["result"] == "current"
    assert retrainer.run(RetrainClassifier(tenant="nobody", embedding_model=BASE))["result"] == "none"
    assert load_model(rt.sessions, "acme", BASE) is not None  # untouched
