"""Classification (issue 11): the pure ``classify`` function on hand-made vectors, taxonomy
files and the taxonomy store, and the real encoder on a hand-written labelled mini-set and on
real documents of the corpus (skipped without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from documind.taxonomy import (
    LabelDef, TaxonomyError, add_label, import_labels, list_labels, parse_taxonomy, remove_label, taxonomy_version,
)
from documind.label_model import LinearModel, fit_linear, load_model, read_examples, save_model
from documind_embed.classification import Params, Taxonomy, classify, zero_shot_probabilities

from tests.conftest import require_real_corpus

# ---- classify() on hand-made vectors ------------------------------------------------------


def unit(*xs: float) -> np.ndarray:
    v = np.asarray(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


LABELS = (LabelDef("a", "about a"), LabelDef("b", "about b"), LabelDef("c", "about c"))
AXES = np.stack([unit(1, 0, 0, 0), unit(0, 1, 0, 0), unit(0, 0, 1, 0)])
TAX = Taxonomy("t", LABELS, AXES, taxonomy_version(LABELS))


def test_a_document_gets_the_label_its_chunks_are_close_to() -> None:
    chunks = np.stack([unit(1, 0.1, 0, 0.2), unit(0.9, 0.2, 0, 0.1)])
    result = classify(TAX, ["x", "y"], chunks, chunk_indexes=[4, 5])
    assert result.method == "zero-shot"
    assert result.names == ["a"]
    assert result.labels[0].score > 0.9
    assert result.margin == pytest.approx(result.labels[0].score - sorted(
        zero_shot_probabilities(AXES @ unit(1.9, 0.3, 0, 0.3), 0.05, 0.15)[0])[-2], abs=1e-3)
    assert [(c.idx, c.name) for c in result.chunks] == [(4, "a"), (5, "a")]
    meta = result.metadata()
    assert meta["labels"][0]["name"] == "a" and meta["method"] == "zero-shot"
    assert meta["taxonomy_version"] == TAX.version


def test_threshold_and_max_labels() -> None:
    between = np.stack([unit(1, 1, 0.9, 0)])  # close to a, b and c alike
    three = classify(TAX, ["x"], between, params=Params(min_score=0.1, max_labels=3))
    assert sorted(three.names) == ["a", "b", "c"]
    assert three.margin < 0.1  # no clear winner
    assert len(classify(TAX, ["x"], between, params=Params(min_score=0.1, max_labels=2)).labels) == 2
    assert classify(TAX, ["x"], between, params=Params(min_score=0.9)).labels == []


def test_a_document_near_no_label_gets_none_even_with_a_single_label() -> None:
    one = Taxonomy("t", LABELS[:1], AXES[:1], "v")
    unrelated = np.stack([unit(0.05, 0, 0, 1)])
    result = classify(one, ["x"], unrelated)
    assert result.labels == [] and result.labels[:0] == []
    assert classify(one, ["x"], np.stack([unit(1, 0, 0, 0.2)])).names == ["a"]


def test_empty_taxonomy_gives_no_labels_and_says_why() -> None:
    empty = Taxonomy("t", (), np.zeros((0, 4), np.float32), taxonomy_version([]))
    result = classify(empty, ["x"], np.stack([unit(1, 0, 0, 0)]))
    assert result.labels == [] and result.method == "none"
    assert "no taxonomy" in (result.note or "")
    assert result.metadata()["note"] == result.note


def test_no_chunks_gives_no_labels_and_says_why() -> None:
    result = classify(TAX, [], np.zeros((0, 4), np.float32))
    assert result.labels == [] and "no embedded chunks" in (result.note or "")


def test_mismatched_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="must match"):
        classify(TAX, ["only one"], np.stack([unit(1, 0, 0, 0), unit(0, 1, 0, 0)]))


def test_max_aggregation_follows_the_strongest_chunk() -> None:
    # One chunk squarely about b, three weakly about a: the mean leans to a, the max to b.
    chunks = np.stack([unit(0, 1, 0, 0)] + [unit(0.5, 0, 0, 1)] * 3)
    assert classify(TAX, list("wxyz"), chunks, params=Params(min_score=0.0, max_labels=1)).names == ["a"]
    assert classify(TAX, list("wxyz"), chunks, params=Params(min_score=0.0, max_labels=1, aggregation="max")).names == ["b"]


def test_a_supervised_model_replaces_zero_shot_and_never_gives_removed_labels() -> None:
    # The model says "c" for direction a and knows a label ("gone") the taxonomy dropped.
    model = LinearModel(
        ("c", "gone"), np.stack([unit(1, 0, 0, 0) * 20, unit(1, 0, 0, 0) * 30]), np.array([-5.0, -5.0], np.float32)
    )
    result = classify(TAX, ["x"], np.stack([unit(1, 0, 0, 0)]), model=model)
    assert result.method == "supervised" and result.names == ["c"]
    assert [c.name for c in result.chunks] == ["c"]
    # A model that knows none of the taxonomy's labels is not used.
    stale = LinearModel(("gone",), np.stack([unit(1, 0, 0, 0)]), np.zeros(1, np.float32))
    assert classify(TAX, ["x"], np.stack([unit(1, 0, 0, 0)]), model=stale).method == "zero-shot"


# ---- taxonomy files and store ---------------------------------------------------------------


def test_taxonomy_files_in_three_shapes() -> None:
    as_list = parse_taxonomy("- name: sport\n  description: football and athletes\n- {name: law, description: courts}")
    as_map = parse_taxonomy('{"sport": "football and athletes", "law": "courts"}')
    nested = parse_taxonomy("labels:\n  - name: sport\n    description: football   and\n      athletes\n"
                            "  - name: law\n    description: courts\n")
    assert as_list == as_map == nested == [LabelDef("sport", "football and athletes"), LabelDef("law", "courts")]
    assert taxonomy_version(as_list) == taxonomy_version(list(reversed(as_map)))
    assert taxonomy_version(as_list) != taxonomy_version([LabelDef("sport", "football"), LabelDef("law", "courts")])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "expected a list"),
        ("[1, 2]", "entry 1 is not a mapping"),
        ("- name: x\n", "needs a description"),
        ("- {name: '  ', description: d}", "non-empty name"),
        ("- {name: x, description: d}\n- {name: x, description: e}", "appears twice"),
        ("{labels: [", "not valid YAML or JSON"),
    ],
)
def test_bad_taxonomy_files_say_what_is_wrong(text: str, error: str) -> None:
    with pytest.raises(TaxonomyError, match=error):
        parse_taxonomy(text, "tax.yaml")


def test_taxonomy_store(sessions) -> None:  # noqa: ANN001
    assert list_labels(sessions, "acme") == []
    assert add_label(sessions, "acme", " sport ", "football") == "added"
    assert add_label(sessions, "acme", "sport", "football and athletics") == "updated"
    assert add_label(sessions, "other", "law", "courts") == "added"
    assert list_labels(sessions, "acme") == [LabelDef("sport", "football and athletics")]
    with pytest.raises(TaxonomyError, match=r"no label 'nope' in tenant 'acme'.*labels: sport"):
        remove_label(sessions, "acme", "nope")
    counts = import_labels(sessions, "acme", [LabelDef("law", "courts"), LabelDef("sport", "football and athletics")])
    assert counts == {"added": 1, "updated": 0, "removed": 0, "unchanged": 1}
    counts = import_labels(sessions, "acme", [LabelDef("law", "courts and judges")], replace=True)
    assert counts == {"added": 0, "updated": 1, "removed": 1, "unchanged": 0}
    remove_label(sessions, "acme", "law")
    assert list_labels(sessions, "acme") == [] and [lb.name for lb in list_labels(sessions, "other")] == ["law"]


def test_examples_file_errors(tmp_path: Path) -> None:
    good = tmp_path / "ok.jsonl"
    good.write_text('{"text": "a goal", "labels": ["sport"]}\n\n{"text": "a court", "label": "law"}\n')
    assert read_examples(good) == [("a goal", ["sport"]), ("a court", ["law"])]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a goal", "labels": ["sport"]}\n{"labels": ["x"]}\n')
    with pytest.raises(TaxonomyError, match=r"bad.jsonl:2: expected an object"):
        read_examples(bad)


# ---- the real encoder: a hand-written labelled mini-set ------------------------------------

MINI = {
    "sport": [
        "The striker scored twice in the second half and the home side won the league match.",
        "She won the marathon in record time after training at altitude for months.",
        "The coach was sacked after the team lost five games in a row.",
        "A late penalty decided the cup final in front of sixty thousand fans.",
        "The tennis champion retired after losing in the first round at Wimbledon.",
        "The goalkeeper saved three shots in the penalty shoot-out.",
        "The cyclist crashed on the final descent of the mountain stage.",
    ],
    "health": [
        "Patients with high blood pressure should reduce salt and take their medication daily.",
        "The vaccine trial showed strong protection against severe illness in older adults.",
        "Doctors recommend screening for diabetes in people over forty.",
        "The hospital opened a new ward for children with respiratory infections.",
        "Regular exercise lowers the risk of heart disease and stroke.",
        "The nurse checked the wound dressing and gave the patient antibiotics.",
        "A study linked poor sleep to higher rates of depression.",
    ],
    "finance": [
        "The company reported quarterly revenue up twelve percent and raised its dividend.",
        "Bond yields rose after the central bank signalled another interest rate increase.",
        "Shares fell sharply when the bank announced losses on its loan portfolio.",
        "The audit found errors in the accounting of deferred tax assets.",
        "Investors moved money into index funds as stock market volatility increased.",
        "The firm issued new shares to pay down debt ahead of the merger.",
        "Inflation eroded household savings and pushed up mortgage payments.",
    ],
}
HELD_OUT = [
    ("The referee sent off two players before half time.", "sport"),
    ("The clinic treats patients recovering from surgery.", "health"),
    ("Net profit margins shrank as operating costs grew.", "finance"),
    ("The swimmer broke the world record in the relay.", "sport"),
    ("Antibiotic resistance makes common infections harder to treat.", "health"),
    ("The pension fund sold its holdings of government bonds.", "finance"),
]
DESCRIPTIONS = {
    "sport": "Sports: athletes, teams, matches, competitions, goals, races and results.",
    "health": "Health and medicine: patients, doctors, diseases, treatment, hospitals and wellbeing.",
    "finance": "Finance and business: companies, markets, shares, banks, revenue, interest rates and money.",
}


@pytest.fixture(scope="module")
def encoder():  # noqa: ANN201
    from documind.embedding import Encoder

    return Encoder("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def mini_taxonomy(encoder) -> Taxonomy:  # noqa: ANN001
    labels = tuple(LabelDef(n, d) for n, d in DESCRIPTIONS.items())
    return Taxonomy("t", labels, encoder.encode([f"{lb.name}: {lb.description}" for lb in labels]), "v")


def test_zero_shot_labels_the_hand_written_set(encoder, mini_taxonomy) -> None:  # noqa: ANN001
    texts = [t for ts in MINI.values() for t in ts] + [t for t, _ in HELD_OUT]
    truth = [n for n, ts in MINI.items() for _ in ts] + [n for _, n in HELD_OUT]
    vectors = encoder.encode(texts)
    right = sum(
        classify(mini_taxonomy, [t], v[None, :], params=Params(min_score=0.0, max_labels=1)).names == [n]
        for t, v, n in zip(texts, vectors, truth)
    )
    assert right / len(texts) >= 0.85, f"zero-shot right on {right} of {len(texts)}"


def test_supervised_model_learns_the_hand_written_set_and_round_trips(sessions, encoder, mini_taxonomy) -> None:  # noqa: ANN001
    texts = [t for ts in MINI.values() for t in ts]
    labels = [[n] for n, ts in MINI.items() for _ in ts]
    model, report = fit_linear(encoder.encode(texts), labels, min_examples=5, embedding_model=encoder.model_name)
    assert set(report.labels) == {"sport", "health", "finance"} and report.skipped == {}
    assert report.train_accuracy == 1.0
    save_model(sessions, "acme", model, report, min_examples=5)
    loaded = load_model(sessions, "acme", encoder.model_name)
    assert loaded is not None and loaded.labels == model.labels
    np.testing.assert_array_equal(loaded.weights, model.weights)
    assert load_model(sessions, "acme", "another-model") is None
    assert load_model(sessions, "nobody", encoder.model_name) is None
    vectors = encoder.encode([t for t, _ in HELD_OUT])
    for (text, truth), v in zip(HELD_OUT, vectors):
        result = classify(mini_taxonomy, [text], v[None, :], model=loaded)
        assert result.method == "supervised"
        assert result.names[:1] == [truth], (text, result.labels)


def test_training_needs_enough_examples(encoder) -> None:  # noqa: ANN001
    vectors = encoder.encode(["a goal", "a court case", "a penalty"])
    with pytest.raises(TaxonomyError, match="no label has 5 or more examples"):
        fit_linear(vectors, [["sport"], ["law"], ["sport"]], min_examples=5)


# ---- real documents of the corpus -----------------------------------------------------------

CORPUS_TAXONOMY = {
    "sport": "Sport: football players, clubs, matches, goals, leagues, seasons and transfers.",
    "literature": "Fiction and literature: a novel's characters, their conversations and feelings, narrative prose.",
    "software": "Software development: source code, HTML and XML markup, programming examples.",
    "finance": "Finance: company revenue, earnings, securities filings, accounting and annual reports.",
}


def corpus_chunks(path: Path, limit_chars: int = 8000) -> list[str]:
    """Paragraph-ish pieces of at most ~1000 characters, as the chunker would cut them."""
    text = path.read_text(encoding="utf-8", errors="replace")[:limit_chars]
    pieces, current = [], ""
    for para in text.split("\n"):
        if len(current) + len(para) > 1000 and current.strip():
            pieces.append(current.strip())
            current = ""
        current += para + "\n"
    if current.strip():
        pieces.append(current.strip())
    return pieces


@pytest.mark.parametrize(
    ("name", "label"),
    [("norwich-city.txt", "sport"), ("book-war-and-peace-1225p.txt", "literature"), ("codeblock.md", "software")],
)
def test_zero_shot_on_real_documents(encoder, name: str, label: str) -> None:  # noqa: ANN001
    corpus = require_real_corpus()
    labels = tuple(LabelDef(n, d) for n, d in CORPUS_TAXONOMY.items())
    taxonomy = Taxonomy("t", labels, encoder.encode([f"{lb.name}: {lb.description}" for lb in labels]), "v")
    chunks = corpus_chunks(corpus / name)
    result = classify(taxonomy, chunks, encoder.encode(chunks))
    assert result.names[:1] == [label], result.labels
    assert result.margin > 0.2
    # Per chunk, most pieces agree with the document.
    assert sum(c.name == label for c in result.chunks) > len(chunks) / 2


class RotatedEncoder:
    """Another vector space: the packaged model's vectors under a fixed random rotation (an
    orthogonal map keeps cosines, so a classifier must be retrained to read them, but can be)."""

    def __init__(self, base, name: str = "rotated-minilm") -> None:  # noqa: ANN001
        self.base, self.model_name = base, name
        q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(base.dimension, base.dimension)))
        self.rotation = q.astype(np.float32)

    def encode(self, texts):  # noqa: ANN001, ANN201
        return self.base.encode(texts) @ self.rotation


def test_training_stores_its_examples_and_retrain_rebuilds_in_another_space(sessions, encoder, mini_taxonomy) -> None:  # noqa: ANN001
    from documind.label_model import delete_model, models_of_other_embeddings, retrain, stored_examples, train_from_pairs

    pairs = [(t, [n]) for n, ts in MINI.items() for t in ts]
    train_from_pairs(sessions, encoder, "swap", pairs, min_examples=5, source="file:mini.jsonl")
    kept = stored_examples(sessions, "swap")
    assert [(e.text, e.labels, e.source) for e in kept] == [(t, ls, "file:mini.jsonl") for t, ls in pairs]

    rotated = RotatedEncoder(encoder)
    assert load_model(sessions, "swap", rotated.model_name) is None  # the old model does not apply
    assert "swap" in models_of_other_embeddings(sessions, rotated.model_name)
    outcome = retrain(sessions, rotated, "swap")
    assert outcome["result"] == "retrained" and outcome["previous_model"] == encoder.model_name
    assert outcome["train_accuracy"] == 1.0
    model = load_model(sessions, "swap", rotated.model_name)
    assert model is not None and load_model(sessions, "swap", encoder.model_name) is None
    assert "swap" not in models_of_other_embeddings(sessions, rotated.model_name)
    rotated_taxonomy = Taxonomy("t", mini_taxonomy.labels, mini_taxonomy.vectors @ rotated.rotation, "v")
    for (text, truth), v in zip(HELD_OUT, rotated.encode([t for t, _ in HELD_OUT])):
        result = classify(rotated_taxonomy, [text], v[None, :], model=model)
        assert result.method == "supervised" and result.names[:1] == [truth], (text, result.labels)
    assert retrain(sessions, rotated, "swap")["result"] == "current"  # a redelivery changes nothing
    assert len(stored_examples(sessions, "swap")) == len(pairs)  # retraining keeps the examples

    # A second training replaces the examples; untraining removes them (nothing to rebuild).
    train_from_pairs(sessions, encoder, "swap", pairs[:10] + pairs[-5:], min_examples=5, source="validated")
    assert {e.source for e in stored_examples(sessions, "swap")} == {"validated"}
    assert delete_model(sessions, "swap") and stored_examples(sessions, "swap") == []
    assert retrain(sessions, rotated, "swap")["result"] == "none"
