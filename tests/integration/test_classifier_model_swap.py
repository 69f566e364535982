"""The supervised label classifier follows a model swap, with the real CLI and workers in both
modes: trained (on real corpus text) in the packaged model's space, it is retrained by the embed
service in the new model's space when ``documind model activate`` switches (and back after
``rollback``), so documents are classified by it again, not silently zero-shot.

The second model is the packaged one saved with CLS pooling (as in test_model_swap.py): the
same weights, clearly different vectors. Few documents: the swap re-embeds them all."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import require_real_corpus
from tests.integration.harness import Stack, mode_stack
from tests.integration.test_model_swap import BASE, cls_pooled_model
from tests.unit.test_classification import corpus_chunks

pytestmark = pytest.mark.integration

TAXONOMY = {
    "sport": "Sport: football players, clubs, matches, goals, leagues, seasons and transfers.",
    "literature": "Fiction and literature: a novel's characters, their conversations and feelings, narrative prose.",
    "software": "Software development: source code, HTML and XML markup, programming examples.",
}


def training_examples(corpus: Path) -> list[dict]:
    """Real corpus text: pieces of a football biography and of a novel, and three small
    technical files (a code block, two READMEs with markup) whole."""
    pieces = [{"text": p, "labels": ["sport"]} for p in corpus_chunks(corpus / "norwich-city.txt", 6000)[:4]]
    pieces += [{"text": p, "labels": ["literature"]}
               for p in corpus_chunks(corpus / "book-war-and-peace-1225p.txt", 20000)[4:8]]
    pieces += [{"text": (corpus / n).read_text(encoding="utf-8")[:1000], "labels": ["software"]}
               for n in ("codeblock.md", "README.rst", "README.md")]
    return pieces


@pytest.fixture(scope="module", params=["embedded", "distributed"])
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    with mode_stack(request.param, "clfswap", redis_db=14) as s:
        yield s


def classifier(stack: Stack) -> dict:
    return stack.cli("labels", "list", "--json").json()["classifier"]


def wait_for(what: str, check, stack: Stack, timeout_s: float = 300):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout_s} s\n{stack.worker_logs()}")
        time.sleep(0.5)
    return value


def classification(stack: Stack, doc_id: str) -> dict | None:
    return stack.cli("show", doc_id, "--json").json()["classification"]


def reclassified_with(stack: Stack, doc_id: str, model: str, timeout_s: float = 300) -> dict:
    """Classify again until it is done in ``model``'s space: a distributed embed worker trusts
    its reading of the active version for DOCUMIND_MODEL_REFRESH_S after a switch."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        stack.cli("labels", "classify", doc_id)
        for _ in range(20):
            c = classification(stack, doc_id)
            if c and c.get("embedding_model") == model:
                return c
            time.sleep(0.5)
    raise AssertionError(f"{doc_id} not classified in {model}'s space\n{stack.worker_logs()}")


def new_candidate(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """Register the CLS-pooled model as a candidate version; returns its name and version."""
    from documind.db.models import ModelStatus
    from documind.model_registry import build_registry
    from documind.runtime import build_runtime
    from documind.settings import load_settings

    for key, value in stack.env.items():
        if key.startswith("DOCUMIND_"):
            monkeypatch.setenv(key, value)
    rt = build_runtime(load_settings(), configure_logs=False)
    try:
        registry = build_registry(rt)
        version = registry.create(parent=registry.active(), pairs_path=None, params={"made_by": "test: CLS pooling"})
        cls_pooled_model(rt.settings.effective_storage_dir, f"models/v{version}")
        registry.update(version, status=ModelStatus.CANDIDATE, path=f"models/v{version}")
        return registry.get(version).name, version
    finally:
        rt.close()


def test_supervised_classifier_is_retrained_after_a_model_swap_and_rollback(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    corpus = require_real_corpus()
    for name, description in TAXONOMY.items():
        stack.cli("labels", "add", name, "--description", description)
    rows = training_examples(corpus)
    examples = tmp_path / "train.jsonl"
    examples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    trained = stack.cli("labels", "train", str(examples), "--min-examples", "3", "--json").json()
    assert trained["embedding_model"] == BASE and set(trained["labels"]) == set(TAXONOMY)
    [doc] = stack.ingest(corpus / "norwich-city.txt")
    assert doc["status"] == "completed", doc
    first = wait_for("classified", lambda: classification(stack, doc["id"]), stack)
    assert (first["method"], first["embedding_model"], first["labels"][0]["name"]) == ("supervised", BASE, "sport")
    stored = stack.sql("SELECT count(*), min(source) FROM label_training_examples")
    assert stored == [(len(rows), "file:train.jsonl")]

    new_name, version = new_candidate(stack, monkeypatch)
    swapped = stack.cli("model", "activate", str(version), "--json").json()
    assert swapped["classifiers_retrained"] == ["default"]
    after = wait_for("classifier retrained", lambda: (c := classifier(stack))["embedding_model"] == new_name and c, stack)
    assert after["in_use"] and after["active_model"] == new_name and set(after["labels"]) == set(TAXONOMY)
    assert after["examples"] == len(rows)
    listed = stack.cli("labels", "list")
    assert f"on {new_name} (in use)" in listed.stderr
    again = reclassified_with(stack, doc["id"], new_name)
    assert again["method"] == "supervised" and again["labels"][0]["name"] == "sport"
    assert "(supervised, " + new_name + ")" in stack.cli("show", doc["id"]).stdout

    # Rollback: back in the packaged model's space, supervised again.
    stack.cli("model", "rollback", "--json")
    wait_for("classifier retrained after the rollback", lambda: classifier(stack)["embedding_model"] == BASE, stack)
    back = reclassified_with(stack, doc["id"], BASE)
    assert back["method"] == "supervised" and back["labels"][0]["name"] == "sport"
