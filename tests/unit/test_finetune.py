"""Fine-tuning and model judging: pairs files, the held-out split, duplicate-free batches, a few
real training steps on a tiny pair set, and the evaluation choosing the better model; the
training job end to end on an embedded runtime (registry row from training to its verdict)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from documind.contracts import TrainModel
from documind.db.models import ModelStatus
from documind.embedding import Encoder
from documind.model_registry import ModelRegistry, ModelVersionError, build_registry
from documind.pairs import BadPairs, parse_pairs
from documind.runtime import Runtime, build_runtime
from documind.settings import load_settings

from documind_embed.finetune import (
    TrainConfig, batches_without_duplicates, evaluate, is_better, split_pairs, train,
)
from documind_embed.training import ModelTrainer

MODEL = "all-MiniLM-L6-v2"

# Real (query, passage) pairs on distinct topics: a model has something to rank.
PAIRS = [
    ("how do hermit crabs find new shells", "Hermit crabs move into larger empty snail shells as they grow."),
    ("what temperature to brew coffee", "Brew coffee with water between 90 and 96 degrees Celsius."),
    ("when was the lighthouse built", "The lighthouse on the cape was built in 1857 of local granite."),
    ("what causes tides", "Tides are caused by the gravitational pull of the moon and the sun."),
    ("how to store sourdough starter", "Keep sourdough starter in the fridge and feed it once a week."),
    ("why do leaves change colour in autumn", "Chlorophyll breaks down in autumn, revealing yellow and red pigments."),
    ("what is a vector database", "A vector database stores embeddings and finds nearest neighbours quickly."),
    ("how far is the moon", "The moon orbits the Earth at an average distance of 384,400 kilometres."),
    ("how do bees make honey", "Bees turn flower nectar into honey by evaporation and enzymes in the hive."),
    ("what is the boiling point of water", "Water boils at 100 degrees Celsius at sea level."),
    ("who invented the telephone", "Alexander Graham Bell was granted the first telephone patent in 1876."),
    ("how do volcanoes erupt", "Magma rises through cracks and erupts when gas pressure builds up."),
]


def test_parse_pairs_tsv_and_jsonl_and_errors() -> None:
    assert parse_pairs(b"q1\tp1\n\nq2\tp2\n", "pairs.tsv") == [("q1", "p1"), ("q2", "p2")]
    jl = "\n".join(json.dumps({"query": q, "passage": p}) for q, p in PAIRS[:2]).encode()
    assert parse_pairs(jl, "pairs.jsonl") == PAIRS[:2]
    with pytest.raises(BadPairs, match=r"pairs.tsv:2: expected 2 tab-separated columns"):
        parse_pairs(b"q1\tp1\nq2 p2\n", "pairs.tsv")
    with pytest.raises(BadPairs, match=r"x.jsonl:1:"):
        parse_pairs(b'{"query": "q"}\n', "x.jsonl")
    with pytest.raises(BadPairs, match="empty query"):
        parse_pairs(b"\tp\n", "pairs.tsv")
    with pytest.raises(BadPairs, match="not UTF-8"):
        parse_pairs(b"\xff\xfe\tp\n", "pairs.tsv")


def test_split_is_by_query_and_batches_hold_no_duplicates() -> None:
    pairs = [*PAIRS, (PAIRS[0][0], "A second relevant passage about shells."), ("other query", PAIRS[1][1])]
    train_pairs, held = split_pairs(pairs, 0.25)
    assert held and train_pairs
    assert not {q for q, _ in train_pairs} & {q for q, _ in held}
    assert sorted(train_pairs + held) == sorted(pairs)
    import random

    for batch in batches_without_duplicates(pairs, 4, random.Random(1)):
        qs, ps = [q for q, _ in batch], [p for _, p in batch]
        assert len(batch) <= 4 and len(set(qs)) == len(qs) and len(set(ps)) == len(ps)
        assert not set(qs) & set(ps)


def _one_hot_encoder(mapping: dict[str, int], dim: int):  # noqa: ANN202
    def encode(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, mapping[t]] = 1.0
        return out

    return encode


def test_evaluation_prefers_the_model_that_ranks_the_passages_right() -> None:
    pairs = PAIRS[:6]
    good = {t: i for i, (q, p) in enumerate(pairs) for t in (q, p)}  # query and its passage coincide
    bad = {**good, **{q: (i + 1) % 6 for i, (q, _) in enumerate(pairs)}}  # every query points at the next passage
    perfect = evaluate(_one_hot_encoder(good, 6), pairs)
    wrong = evaluate(_one_hot_encoder(bad, 6), pairs)
    assert perfect["ndcg@10"] == 1.0 and perfect["mrr@10"] == 1.0 and perfect["queries"] == 6
    assert wrong["ndcg@10"] < perfect["ndcg@10"]
    assert is_better(perfect, wrong) and not is_better(wrong, perfect)
    assert not is_better(perfect, perfect)  # equal is not better: the active model stays
    assert not is_better(perfect, wrong, min_gain=1.0)
    # The real model ranks these real pairs far above a scramble of them.
    enc = Encoder(MODEL)
    real = evaluate(enc.encode, pairs)
    assert real["ndcg@10"] > 0.9


def test_a_few_training_steps_change_the_model_and_save_it(tmp_path: Path) -> None:
    from documind.embedding import model_path

    seen: list[dict] = []
    out = tmp_path / "v2"
    result = train(model_path(MODEL), PAIRS, out, TrainConfig(batch_size=4, max_steps=2, learning_rate=1e-4),
                   progress=seen.append)
    assert result.steps == 2 and [p["step"] for p in seen] == [1, 2] and all(p["total"] == 2 for p in seen)
    assert all(np.isfinite(p["loss"]) and p["loss"] > 0 for p in seen)
    base, tuned = Encoder(MODEL), Encoder("tuned", path=out, dimension=384)
    a, b = base.encode([PAIRS[0][0]]), tuned.encode([PAIRS[0][0]])
    assert a.shape == b.shape == (1, 384)
    assert not np.allclose(a, b, atol=1e-4)  # the weights moved
    assert abs(float(np.linalg.norm(b)) - 1.0) < 1e-4


@pytest.fixture
def runtime(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_settings(data_dir=tmp_path / "data"), configure_logs=False)
    yield rt
    rt.close()


def _new_version(rt: Runtime, registry: ModelRegistry, **params) -> int:  # noqa: ANN003
    data = "".join(f"{q}\t{p}\n" for q, p in PAIRS).encode()
    rt.storage.put_bytes("models/pairs/test.tsv", data)
    return registry.create(
        parent=registry.active(), pairs_path="models/pairs/test.tsv",
        params={"epochs": 1, "held_out": 0.35, "batch_size": 4, "learning_rate": 1e-4, "seed": 13, **params},
    )


def test_training_job_records_progress_and_its_verdict(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = build_registry(runtime)
    version = _new_version(runtime, registry, max_steps=2)
    assert registry.row(version)["status"] == ModelStatus.TRAINING.value
    row = ModelTrainer(runtime, registry).run(TrainModel(version=version))
    assert row["status"] in (ModelStatus.CANDIDATE.value, ModelStatus.REJECTED.value)
    assert row["progress"]["step"] == row["progress"]["total"] == 2
    m = row["metrics"]
    assert m["metric"] == "ndcg@10" and m["baseline_version"] == 1
    assert 0 <= m["candidate"] <= 1 and 0 <= m["baseline"] <= 1
    assert (row["status"] == "candidate") == (m["candidate"] > m["baseline"])
    assert row["path"] == f"models/v{version}" and (runtime.settings.effective_storage_dir / row["path"]).is_dir()
    assert row["params"]["held_out_pairs"] + row["params"]["train_pairs"] == len(PAIRS)
    # A redelivered job that already ended changes nothing.
    assert ModelTrainer(runtime, registry).run(TrainModel(version=version))["status"] == row["status"]


def test_the_verdict_follows_the_comparison(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Worse (or equal) than the active model: rejected, with both figures; better: candidate."""
    import documind_embed.training as training

    registry = build_registry(runtime)
    for candidate_score, expected in ((0.2, "rejected"), (0.9, "candidate")):
        version = _new_version(runtime, registry, max_steps=1)
        calls = iter([{"ndcg@10": candidate_score, "queries": 4}, {"ndcg@10": 0.5, "queries": 4}])
        monkeypatch.setattr(training, "evaluate", lambda encode, pairs: next(calls))
        row = ModelTrainer(runtime, registry).run(TrainModel(version=version))
        assert row["status"] == expected, row
        assert (row["metrics"]["candidate"], row["metrics"]["baseline"]) == (candidate_score, 0.5)
        if expected == "rejected":
            assert "not better" in row["error"]


def test_a_bad_pairs_file_fails_the_job_and_cannot_be_activated(runtime: Runtime) -> None:
    registry = build_registry(runtime)
    runtime.storage.put_bytes("models/pairs/bad.tsv", b"only one column\n")
    version = registry.create(parent=registry.active(), pairs_path="models/pairs/bad.tsv",
                              params={"epochs": 1, "held_out": 0.2, "batch_size": 4, "learning_rate": 1e-4})
    with pytest.raises(BadPairs):
        ModelTrainer(runtime, registry).run(TrainModel(version=version))
    row = registry.row(version)
    assert row["status"] == "failed" and "2 tab-separated columns" in row["error"]
    with pytest.raises(ModelVersionError, match="failed"):
        registry.check_activatable(version)


def test_registry_activation_and_rollback_bookkeeping(runtime: Runtime) -> None:
    registry = build_registry(runtime)
    # Version 1 on the default encoder backend: the packaged model's int8 export.
    assert registry.active().version == 1 and registry.active().name == f"{MODEL}-onnx-int8"
    with pytest.raises(ModelVersionError, match="nothing to roll back"):
        registry.rollback_target()
    v2 = registry.create(parent=registry.active(), pairs_path=None, params={})
    registry.update(v2, status=ModelStatus.CANDIDATE, path=f"models/v{v2}")
    assert registry.mark_active(v2) == 1
    assert registry.active().version == v2 and registry.active().name == f"{MODEL}-ft-v{v2}"
    assert registry.by_name(f"{MODEL}-ft-v{v2}").path == runtime.settings.effective_storage_dir / f"models/v{v2}"
    assert registry.rollback_target() == 1
    assert registry.mark_active(1) == v2
    assert registry.active().version == 1
    listed = {r["version"]: r["status"] for r in registry.list()}
    assert listed == {1: "active", v2: "retired"}
